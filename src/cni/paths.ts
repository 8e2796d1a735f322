import { join } from 'node:path';

/** Where the installed plugin's parts live (install.ts writes them; the agent's CNI server reads them). */

/** The agent's CNI socket when nothing names another (docs/cni.md "Through the agent"). */
export const AGENT_SOCKET = '/run/podnet/cni.sock';

/**
 * Where install puts the Node.js plugin and its addon when the executable the runtime runs is the native client:
 * `<bin-dir>/podnet.d/`. The runtime only executes `<bin-dir>/<type>`, so nothing here is mistaken for a plugin.
 */
export const pluginHome = (binDir: string): string => join(binDir, 'podnet.d');
/** The native netlink addon's file inside pluginHome: what the agent's CNI server loads. */
export const ADDON_FILE = 'netlink.node';

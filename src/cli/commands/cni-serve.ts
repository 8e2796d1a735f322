import { resolve } from 'node:path';
import { ConfigError } from '../../errors.js';
import { defineCommand } from '../command.js';

export const cniServe = defineCommand({
  name: 'cni serve',
  summary: "answer the installed CNI client's requests warm, without the rest of the agent (docs/cni.md)",
  help: `usage: podnet cni serve [--socket PATH] [--bin-dir DIR]

Runs the node agent's CNI server alone until SIGTERM: the installed plugin (the native client) hands every
invocation to it over PATH, and it runs the plugin's own code in this process. Run it in the node's network
namespace, as the runtime runs plugins; requests from any other namespace are declined (the client then runs
the Node.js plugin itself). \`podnet agent\` serves the same socket itself. Needs the netlink addon that
\`podnet cni install\` put in DIR/podnet.d (exit 1 without it: the client's own fallback is then faster).

  --socket PATH   the socket (default: /run/podnet/cni.sock; the conflist's agentSocket)
  --bin-dir DIR   where \`podnet cni install\` put the plugin, for its netlink addon (default: /opt/cni/bin)`,
  options: {
    socket: { type: 'string' },
    'bin-dir': { type: 'string', default: '/opt/cni/bin' },
  },
  async run({ values }) {
    const { AGENT_SOCKET } = await import('../../cni/paths.js');
    const socket = resolve(values.socket ?? AGENT_SOCKET);
    if (socket.length > 107)
      throw new ConfigError(
        [{ path: '--socket', message: `'${socket}' is longer than a unix socket path may be (107 bytes)` }],
        'podnet cni serve',
      );
    const { startCniServer } = await import('../../agent/main.js');
    const { jsonLogger } = await import('../../agent/log.js');
    const log = jsonLogger();
    const server = await startCniServer(socket, resolve(values['bin-dir']), log);
    if (!server) return 1; // logged: no addon installed, or the socket cannot be served
    await new Promise<void>((done) => {
      process.once('SIGTERM', done);
      process.once('SIGINT', done);
    });
    await server.close();
    log('info', 'stopped', { served: server.served() });
    return 0;
  },
});

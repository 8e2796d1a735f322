import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from '../errors.js';
import { compileCniClient, compileNetlinkAddon } from '../exec/netlink/build.js';
import { shortHash } from '../net/ifname.js';
import { CODE_CACHE_DIR } from './code-cache-dir.js';
import { loaderSource, PLUGIN_NODE_ARG } from './loader.js';
import { ADDON_FILE, AGENT_SOCKET, pluginHome } from './paths.js';

/** Options of `podnet cni install`. */
export interface InstallOptions {
  /** Where the runtime looks for plugin binaries (containerd `bin_dir`). @default /opt/cni/bin */
  readonly binDir: string;
  /** Where the runtime looks for network configurations (containerd `conf_dir`). @default /etc/cni/net.d */
  readonly confDir: string;
  readonly name: string;
  readonly subnet: string;
  readonly bridge: string;
  readonly mtu: number;
  readonly dataDir: string;
  readonly ipMasq: boolean;
  readonly hairpinMode: boolean;
  /** Chain the reference `portmap` plugin after podnet (hostPort). @default true */
  readonly portmap: boolean;
  /** Where the plugin keeps V8's code cache of itself (loader.ts). @default /run/podnet/cni */
  readonly codeCacheDir?: string;
  /**
   * The node agent's CNI socket (src/agent/cni-server.ts): written into the conflist as `agentSocket` and built
   * into the client as its default. @default /run/podnet/cni.sock
   */
  readonly agentSocket?: string;
}

export { ADDON_FILE, AGENT_SOCKET, pluginHome } from './paths.js';

/** The conflist `install` writes: 1.0.0 for today's runtimes, 1.1.0 offered to those that speak it. */
export function conflistFor(o: InstallOptions): object {
  return {
    cniVersion: '1.0.0',
    cniVersions: ['1.0.0', '1.1.0'],
    name: o.name,
    plugins: [
      {
        type: 'podnet',
        bridge: o.bridge,
        subnet: o.subnet,
        isGateway: true,
        isDefaultGateway: true,
        mtu: o.mtu,
        hairpinMode: o.hairpinMode,
        ipMasq: o.ipMasq,
        ipam: { dataDir: o.dataDir },
        agentSocket: o.agentSocket ?? AGENT_SOCKET,
      },
      ...(o.portmap ? [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] : []),
    ],
  };
}

export { CODE_CACHE_DIR } from './code-cache-dir.js';

/**
 * Bundles the plugin (src/cni/main and what it imports) into one self-contained file with esbuild: no
 * node_modules and no dist/ at run time. The bundle travels inside a small loader that compiles it with V8's
 * code cache (loader.ts), and carries the native netlink addon when a C compiler was available.
 */
export async function bundlePlugin(
  outfile: string,
  codeCacheDir = CODE_CACHE_DIR,
): Promise<{ netlink: boolean; addon?: Buffer; warning?: string }> {
  let esbuild: typeof import('esbuild');
  try {
    // require, not import(): the CLI bundle runs as a vm.Script (bin/podnet.js), which has no import().
    esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch (e) {
    throw new UnsupportedError(
      `cannot bundle the CNI plugin: esbuild is not installed (${(e as Error).message}); run npm install, which installs the pinned dev dependency`,
      { cause: e },
    );
  }
  // The native addon that lets ADD and DEL talk rtnetlink in-process, embedded in the same file. Without a C
  // compiler the plugin still works, through `ip` processes, at several times the latency.
  let addon: { bytes: Buffer; sha: string } | undefined;
  let warning: string | undefined;
  try {
    addon = await compileNetlinkAddon();
  } catch (e) {
    warning = `the plugin will run ip processes instead of in-process netlink: ${(e as Error).message}`;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const tmp = `${outfile}.tmp-${process.pid}`;
  mkdirSync(dirname(outfile), { recursive: true });
  const built = await esbuild.build({
    stdin: { contents: "import { main } from './main.js';\nmain();\n", resolveDir: here, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    // ESM sources may read import.meta.url at load time; in the CommonJS bundle it is the bundle's own URL.
    define: {
      'import.meta.url': '__podnetImportMeta.url',
      // The native addon is written beside the code cache (main.ts nativeDir), not into the IPAM data.
      __PODNET_CODE_CACHE_DIR__: JSON.stringify(codeCacheDir),
      ...(addon
        ? {
            __PODNET_NETLINK_ADDON__: JSON.stringify({
              base64: addon.bytes.toString('base64'),
              sha: addon.sha,
            }),
          }
        : {}),
    },
    // Computed only if read (only code the plugin never runs reads it): 0.3 ms saved per invocation.
    banner: {
      js: "const __podnetImportMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };",
    },
    write: false,
    logLevel: 'silent',
  });
  const code = built.outputFiles[0]!.text;
  // The node that ran `install`, by absolute path: runtimes may exec plugins with a minimal PATH, and
  // `#!/usr/bin/env node` would also walk PATH on every invocation.
  const sha = shortHash(code, 16);
  writeFileSync(tmp, loaderSource({ nodePath: process.execPath, code, sha, cacheDir: codeCacheDir }));
  // Code caches of the plugin this install replaces will never be read again.
  try {
    for (const f of readdirSync(codeCacheDir))
      if (/^cni-[0-9a-f]{16}-[A-Z]+\.code-cache$/.test(f) && !f.startsWith(`cni-${sha}-`))
        unlinkSync(join(codeCacheDir, f));
  } catch {
    // no cache directory yet
  }
  chmodSync(tmp, 0o755);
  renameSync(tmp, outfile);
  return {
    netlink: addon !== undefined,
    ...(addon ? { addon: addon.bytes } : {}),
    ...(warning ? { warning } : {}),
  };
}

/** Writes `bytes` at `path` atomically, executable or not. */
function writeAtomic(path: string, bytes: Buffer | string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Writes the plugin binary and the conflist; returns both paths. */
export async function install(
  o: InstallOptions,
): Promise<{ plugin: string; conflist: string; warning?: string }> {
  const plugin = join(o.binDir, 'podnet');
  // With a C compiler: `podnet` is the native client (the agent's warm path, ~1 ms to start) and the Node.js
  // plugin it falls back to lives in podnet.d/ with the addon the agent loads. Without one: `podnet` is the
  // Node.js plugin itself, as before, and the agent is not asked.
  const home = pluginHome(o.binDir);
  const nodePlugin = join(home, 'plugin');
  const built = await bundlePlugin(nodePlugin, o.codeCacheDir);
  let warning = built.warning;
  let client: Buffer | undefined;
  if (built.addon) {
    try {
      client = await compileCniClient({
        socket: o.agentSocket ?? AGENT_SOCKET,
        fallback: nodePlugin,
        node: process.execPath,
        nodeArg: PLUGIN_NODE_ARG,
      });
    } catch (e) {
      warning = `the plugin will not hand requests to the agent: ${(e as Error).message}`;
    }
  }
  if (client && built.addon) {
    writeAtomic(join(home, ADDON_FILE), built.addon, 0o644);
    writeAtomic(plugin, client, 0o755);
  } else {
    renameSync(nodePlugin, plugin);
    rmSync(home, { recursive: true, force: true });
  }
  mkdirSync(o.confDir, { recursive: true });
  const conflist = join(o.confDir, `10-${o.name}.conflist`);
  writeFileSync(`${conflist}.tmp`, `${JSON.stringify(conflistFor(o), null, 2)}\n`);
  renameSync(`${conflist}.tmp`, conflist);
  return { plugin, conflist, ...(warning ? { warning } : {}) };
}

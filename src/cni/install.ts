import {
  chmodSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from '../errors.js';
import { compileCniClient, compileNetlinkAddon } from '../exec/netlink/build.js';
import { shortHash } from '../net/ifname.js';
import { CODE_CACHE_DIR } from './code-cache-dir.js';
import { CLIENT_NODE_ARGS, CODE_FILE_RE, codeFileName, loaderSource } from './loader.js';
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
 * esbuild's options for the plugin's code: main.ts and what it imports, as one CommonJS function (the loader
 * compiles it); `addonFile` is where the code finds its netlink addon. The plugin needs no service or policy
 * planner (src/cni/bundle.test.ts checks that none is in it): less code to read and less code cache per start.
 */
export function pluginBuildOptions(addonFile?: string): import('esbuild').BuildOptions & { write: false } {
  const here = dirname(fileURLToPath(import.meta.url));
  return {
    stdin: { contents: "import { main } from './main.js';\nmain();\n", resolveDir: here, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    // ASCII only (esbuild escapes the rest): V8 keeps it as a one-byte string.
    charset: 'ascii',
    // ESM sources may read import.meta.url at load time; in the CommonJS bundle it is the bundle's own URL.
    define: {
      'import.meta.url': '__podnetImportMeta.url',
      ...(addonFile ? { __PODNET_NETLINK_ADDON_FILE__: JSON.stringify(addonFile) } : {}),
    },
    // Computed only if read (only code the plugin never runs reads it): 0.3 ms saved per invocation.
    banner: {
      js: "const __podnetImportMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };",
    },
    write: false,
    logLevel: 'silent',
  };
}

/**
 * Bundles the plugin (src/cni/main and what it imports) into one code file with esbuild (no node_modules and no
 * dist/ at run time) and writes it, with the native netlink addon when a C compiler was available, into `home`;
 * then writes the small loader that compiles that code with V8's code cache (loader.ts) at `loaderFile`, last and
 * atomically, so a loader never names a file that is not there yet.
 */
export async function bundlePlugin(
  home: string,
  loaderFile: string,
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
  // The native addon that lets ADD and DEL talk rtnetlink in-process, a file beside the code (dlopen needs one;
  // the agent loads the same file). Without a C compiler the plugin still works, through `ip` processes, at
  // several times the latency.
  let addon: { bytes: Buffer; sha: string } | undefined;
  let warning: string | undefined;
  try {
    addon = await compileNetlinkAddon();
  } catch (e) {
    warning = `the plugin will run ip processes instead of in-process netlink: ${(e as Error).message}`;
  }
  mkdirSync(home, { recursive: true });
  const addonFile = join(home, ADDON_FILE);
  const built = await esbuild.build(pluginBuildOptions(addon ? addonFile : undefined));
  const code = `(function (exports, require, module, __filename, __dirname) {${built.outputFiles[0]!.text}\n})`;
  // The loader maps the code as a one-byte string (loader.ts): esbuild writes ASCII, escaping anything else.
  if (!/^[\x00-\x7f]*$/.test(code))
    throw new Error('the bundled CNI plugin code is not ASCII (esbuild charset?)');
  const sha = shortHash(code, 16);
  const codeFile = join(home, codeFileName(sha));
  if (addon) writeAtomic(addonFile, addon.bytes, 0o644);
  else rmSync(addonFile, { force: true }); // an earlier install's, that this code would not load
  writeAtomic(codeFile, code, 0o644);
  // The node that ran `install`, by absolute path: runtimes may exec plugins with a minimal PATH, and
  // `#!/usr/bin/env node` would also walk PATH on every invocation.
  writeAtomic(
    loaderFile,
    loaderSource({
      nodePath: process.execPath,
      codeFile,
      sha,
      cacheDir: codeCacheDir,
      ...(addon ? { addonFile } : {}),
    }),
    0o755,
  );
  removeReplaced(home, codeFile, codeCacheDir, sha);
  return {
    netlink: addon !== undefined,
    ...(addon ? { addon: addon.bytes } : {}),
    ...(warning ? { warning } : {}),
  };
}

/**
 * Removes what the replaced plugins left: code caches of other code (never read again), and code files but the
 * newest replaced one (a plugin process that read the old loader a moment ago may still be about to read it).
 */
function removeReplaced(home: string, codeFile: string, codeCacheDir: string, sha: string): void {
  try {
    for (const f of readdirSync(codeCacheDir))
      if (/^cni-[0-9a-f]{16}-[A-Z]+(\.jit)?(\.first)?\.code-cache$/.test(f) && !f.startsWith(`cni-${sha}-`))
        unlinkSync(join(codeCacheDir, f));
  } catch {
    // no cache directory yet
  }
  const replaced = readdirSync(home)
    .filter((f) => CODE_FILE_RE.test(f) && join(home, f) !== codeFile)
    .map((f) => ({ f, at: statSync(join(home, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { f } of replaced.slice(1)) unlinkSync(join(home, f));
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
  // The plugin's code and addon live in podnet.d/. With a C compiler: `podnet` is the native client (the agent's
  // warm path, ~1 ms to start) and the Node.js loader it falls back to is podnet.d/plugin. Without one: `podnet`
  // is the Node.js loader itself, as before, and the agent is not asked.
  const home = pluginHome(o.binDir);
  const nodePlugin = join(home, 'plugin');
  const built = await bundlePlugin(home, nodePlugin, o.codeCacheDir);
  let warning = built.warning;
  let client: Buffer | undefined;
  if (built.addon) {
    try {
      client = await compileCniClient({
        socket: o.agentSocket ?? AGENT_SOCKET,
        fallback: nodePlugin,
        node: process.execPath,
        nodeArgs: CLIENT_NODE_ARGS,
      });
    } catch (e) {
      warning = `the plugin will not hand requests to the agent: ${(e as Error).message}`;
    }
  }
  if (client) writeAtomic(plugin, client, 0o755);
  else renameSync(nodePlugin, plugin);
  mkdirSync(o.confDir, { recursive: true });
  const conflist = join(o.confDir, `10-${o.name}.conflist`);
  writeFileSync(`${conflist}.tmp`, `${JSON.stringify(conflistFor(o), null, 2)}\n`);
  renameSync(`${conflist}.tmp`, conflist);
  return { plugin, conflist, ...(warning ? { warning } : {}) };
}

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from '../../errors.js';
import { exec } from '../process-runner.js';
import { loadNativeFile, type NativeKernel } from './native.js';

/** native/netlink.c in the checkout (this file is dist/src/exec/netlink/build.js once built). */
export const ADDON_SOURCE = fileURLToPath(new URL('../../../../native/netlink.c', import.meta.url));

/** native/cni-client.c: the CNI client the runtime executes when the agent may answer (docs/cni.md). */
export const CNI_CLIENT_SOURCE = fileURLToPath(new URL('../../../../native/cni-client.c', import.meta.url));

/** Where node_api.h is: the pinned node-api-headers package, else the headers installed with Node itself. */
function nodeApiIncludeDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('node-api-headers/package.json');
    return join(dirname(pkg), 'include');
  } catch {
    const beside = join(dirname(process.execPath), '..', 'include', 'node');
    if (existsSync(join(beside, 'node_api.h'))) return beside;
    throw new UnsupportedError(
      'cannot find node_api.h: run npm install (the pinned node-api-headers dev dependency provides it)',
    );
  }
}

/**
 * Compiles native/netlink.c with the system C compiler into a Node-API addon and returns its bytes and content
 * hash. Throws UnsupportedError naming what is missing (cc, headers) and the compiler's own words.
 */
export async function compileNetlinkAddon(): Promise<{ bytes: Buffer; sha: string }> {
  const include = nodeApiIncludeDir();
  const dir = mkdtempSync(join(tmpdir(), 'podnet-addon-'));
  try {
    const out = join(dir, 'netlink.node');
    const cc = process.env.CC || 'cc';
    const r = await exec([
      cc,
      '-O2',
      '-Wall',
      '-shared',
      '-fPIC',
      '-s',
      '-I',
      include,
      '-o',
      out,
      ADDON_SOURCE,
    ]);
    if (r.exitCode !== 0)
      throw new UnsupportedError(
        `cannot compile ${ADDON_SOURCE} with '${cc}' (install gcc and libc6-dev): ${r.stderr.trim() || `exit ${r.exitCode}`}`,
      );
    const bytes = readFileSync(out);
    return { bytes, sha: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The addon for a long-running process (the node agent): compiled from native/netlink.c once per version of
 * that file and kept in `cacheDir` under the source's hash, loaded from there afterwards. `PODNET_NETLINK_ADDON`
 * names a compiled file to use instead. Throws UnsupportedError when it cannot be built (no C compiler).
 */
export async function loadOrCompileNative(cacheDir: string = NATIVE_CACHE): Promise<NativeKernel> {
  const given = process.env.PODNET_NETLINK_ADDON;
  if (given) return loadNativeFile(given);
  const path = cachedPath(cacheDir);
  if (!existsSync(path)) {
    const { bytes } = await compileNetlinkAddon();
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, bytes, { mode: 0o700 });
    renameSync(tmp, path);
  }
  return loadNativeFile(path);
}

/** Where compiled addons are kept, by the hash of their source (shared by the agent, the lab, the benches). */
export const NATIVE_CACHE = '/var/cache/podnet/native';

const cachedPath = (cacheDir: string) =>
  join(
    cacheDir,
    `netlink-src-${createHash('sha256').update(readFileSync(ADDON_SOURCE)).digest('hex').slice(0, 16)}.node`,
  );

/** The addon if it is already compiled for this source (or named by PODNET_NETLINK_ADDON); no compiling. */
export function loadCachedNative(cacheDir: string = NATIVE_CACHE): NativeKernel | undefined {
  const given = process.env.PODNET_NETLINK_ADDON;
  if (given) return loadNativeFile(given);
  try {
    const path = cachedPath(cacheDir);
    return existsSync(path) ? loadNativeFile(path) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Compiles native/cni-client.c into a small executable with its paths built in: the agent's socket (used when the
 * configuration names none), the Node.js plugin it runs when no agent answers, and the node executable and its
 * arguments, so that fallback is a single execve of node (not a second one through the plugin's #! line).
 * Linked statically (musl's C library first) when one allows it: no dynamic loader on every start. Throws
 * UnsupportedError naming what is missing.
 */
export async function compileCniClient(paths: {
  socket: string;
  fallback: string;
  node: string;
  nodeArgs: readonly string[];
}): Promise<Buffer> {
  for (const p of [paths.socket, paths.fallback, paths.node])
    if (!/^\/[A-Za-z0-9_.:@+=,/-]+$/.test(p) || p.length > 107)
      throw new UnsupportedError(
        `cannot build the CNI client for path '${p}': use an absolute path of plain characters (at most 107)`,
      );
  for (const a of paths.nodeArgs)
    if (!/^--[a-z-]+$/.test(a))
      throw new UnsupportedError(`cannot build the CNI client with node argument '${a}'`);
  const dir = mkdtempSync(join(tmpdir(), 'podnet-cni-client-'));
  try {
    const out = join(dir, 'podnet');
    const argv = (cc: string, link: string[]) => [
      cc,
      '-O2',
      '-Wall',
      '-s',
      ...link,
      `-DPODNET_AGENT_SOCKET="${paths.socket}"`,
      `-DPODNET_FALLBACK="${paths.fallback}"`,
      `-DPODNET_NODE="${paths.node}"`,
      `-DPODNET_NODE_ARGS=${paths.nodeArgs.map((a) => `"${a}"`).join(',')}`,
      '-o',
      out,
      CNI_CLIENT_SOURCE,
    ];
    // The first that builds: static with musl (musl-tools; its start-up touches far fewer pages than glibc's,
    // docs/cni.md), static with glibc (libc6-dev has its archive), then dynamic (the same, only slower to start).
    // $CC, when set, is the compiler used.
    const cc = process.env.CC || 'cc';
    const tries = [
      ...(process.env.CC ? [] : [argv('musl-gcc', ['-static'])]),
      argv(cc, ['-static']),
      argv(cc, []),
    ];
    let r = await exec(tries[0]!);
    for (const t of tries.slice(1)) if (r.exitCode !== 0) r = await exec(t);
    if (r.exitCode !== 0)
      throw new UnsupportedError(
        `cannot compile ${CNI_CLIENT_SOURCE} with '${cc}' (install gcc and libc6-dev): ${r.stderr.trim() || `exit ${r.exitCode}`}`,
      );
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What native/netlink.c gives Node.js: the system calls it cannot make itself. */
export interface NativeKernel {
  /** A NETLINK_ROUTE socket in the namespace `nsFd` refers to (-1: our own); returns its fd. */
  routeSocket(nsFd: number): number;
  /** The same for NETLINK_NETFILTER (absent in addons built before it existed). */
  netfilterSocket?(nsFd: number): number;
  /** The same for NETLINK_SOCK_DIAG (absent in addons built before it existed). */
  diagSocket?(nsFd: number): number;
  /**
   * /proc/sys/net/`key` (e.g. `ipv4/ip_forward`) opened for writing in the namespace `nsFd` refers to; returns
   * its fd (absent in addons built before it existed).
   */
  sysctlFile?(nsFd: number, key: string): number;
  /**
   * What `ip netns add NAME` does, in-process: /run/netns/NAME bind-mounted from a new network namespace made
   * on the calling thread, which goes home at once (absent in addons built before it existed). Throws with
   * code ERRNO_N.
   */
  netnsAdd?(name: string): void;
  /** Binds the abstract unix socket `name` (a lock the kernel drops when we die); -1 when it is taken. */
  tryLock(name: string): number;
  /** The file's bytes over a read-only mapping of it (the CNI loader's code cache; absent in older addons). */
  mapFile?(path: string): Buffer;
  /** The file as a one-byte string over such a mapping (the CNI loader's code; absent in older addons). */
  mapLatin1?(path: string): string;
  /** _exit(2) at once: no Node.js teardown (the CNI loader's process.reallyExit; absent in older addons). */
  exitNow?(code: number): never;
}

/** The addon file installed beside the bundled CNI plugin's code (esbuild `define`); absent in the unbundled build. */
declare const __PODNET_NETLINK_ADDON_FILE__: string | undefined;

/**
 * Where `npm run build` leaves the compiled addon (scripts/build-addon.js): dist/native/netlink.node. A function,
 * not a constant: in the bundled CNI plugin, reading import.meta.url costs a pathToFileURL on every start.
 */
export function builtAddon(): string {
  return fileURLToPath(new URL('../../../native/netlink.node', import.meta.url));
}

/**
 * The addon `npm run build` compiled, for the lab (or the file `PODNET_NETLINK_ADDON` names); undefined when there
 * is none (no C compiler at build time), and then the lab runs `ip` processes as before.
 */
export function loadBuiltNative(): NativeKernel | undefined {
  const file = process.env.PODNET_NETLINK_ADDON || builtAddon();
  if (!existsSync(file)) return undefined;
  return loadNativeFile(file);
}

/** Loads a compiled addon file. */
export function loadNativeFile(path: string): NativeKernel {
  const mod = { exports: {} as NativeKernel };
  process.dlopen(mod, path);
  return mod.exports;
}

/**
 * The addon the bundled CNI plugin was installed with (`<bin-dir>/podnet.d/netlink.node`), or the file
 * `PODNET_NETLINK_ADDON` names (the unbundled build, tests). Undefined when there is none (then callers run `ip`
 * instead); a file that does not load throws, and the plugin then runs `ip` too, saying why.
 */
export function loadInstalledNative(): NativeKernel | undefined {
  const file =
    process.env.PODNET_NETLINK_ADDON ||
    (typeof __PODNET_NETLINK_ADDON_FILE__ === 'string' ? __PODNET_NETLINK_ADDON_FILE__ : undefined);
  return file === undefined ? undefined : loadNativeFile(file);
}

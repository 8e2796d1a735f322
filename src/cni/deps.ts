import { join } from 'node:path';
import { NetlinkApplier } from '../apply/netlink.js';
import type { NativeKernel } from '../exec/netlink/native.js';
import type { Runner } from '../exec/runner.js';
import type { NetConf } from './config.js';
import { isNamespaceFile, linkNames } from './host.js';
import { IpamStore } from './ipam-store.js';
import { linkKindByIp, type PluginDeps } from './plugin.js';

/**
 * What the verbs touch, for one invocation: the plugin process builds it once, the agent's CNI server once per
 * request (fresh netlink sockets: their link-index caches must not outlive a request in a long-lived process).
 */
export interface DepsOptions {
  /** The invocation's environment: PODNET_CNI_TRACE (timeline), PODNET_CNI_NO_NETLINK (ip processes). */
  readonly env: NodeJS.ProcessEnv;
  /** The native addon; undefined when there is none (then every kernel change is an `ip` process). */
  readonly native: () => NativeKernel | undefined;
  /** Where trace lines and warnings go (the plugin's stderr, or the answer the agent relays). */
  readonly write: (text: string) => void;
  /** Milliseconds for the trace lines: since the process started (plugin) or the request arrived (agent). */
  readonly now: () => number;
  /** Runs what netlink does not speak (or everything, without the addon). */
  readonly runner: Runner;
}

/** The verbs' dependencies; `close` releases the netlink sockets opened for them. */
export function pluginDeps(o: DepsOptions): PluginDeps & { close(): void } {
  const trace = o.env.PODNET_CNI_TRACE
    ? (note: string) => o.write(`podnet-cni: ${o.now().toFixed(1)} ms: ${note}\n`)
    : undefined;
  const runner = o.runner;
  let native: NativeKernel | undefined;
  let nativeTried = false;
  const nativeFor = (): NativeKernel | undefined => {
    if (!nativeTried) {
      nativeTried = true;
      try {
        if (!o.env.PODNET_CNI_NO_NETLINK) native = o.native();
      } catch (e) {
        o.write(`podnet-cni: in-process netlink unavailable, running ip instead: ${(e as Error).message}\n`);
      }
      trace?.(native ? 'kernel changes in-process over netlink' : 'kernel changes through ip processes');
    }
    return native;
  };
  const appliers = new Map<string, NetlinkApplier | undefined>();
  return {
    runner,
    links: linkNames,
    isNetns: isNamespaceFile,
    store: (conf) => new IpamStore(join(conf.dataDir, conf.name), nativeFor()?.tryLock),
    netlink: (conf: NetConf) => {
      if (!appliers.has(conf.dataDir)) {
        const n = nativeFor();
        appliers.set(conf.dataDir, n && new NetlinkApplier(n, runner));
      }
      return appliers.get(conf.dataDir);
    },
    linkKind: (name) => linkKindByIp(runner, name),
    ...(trace ? { trace } : {}),
    close: () => {
      for (const a of appliers.values()) a?.close();
      appliers.clear();
    },
  };
}

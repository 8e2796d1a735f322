import { join } from 'node:path';
import { apply } from '../apply/apply.js';
import type { NetlinkApplier } from '../apply/netlink.js';
import { ApplyError, CommandError } from '../errors.js';
import { isAlreadyExists, isNotFound } from '../exec/kernel-answers.js';
import type { Runner } from '../exec/runner.js';
import { Ip } from '../net/ip.js';
import { HOST, type Plan } from '../plan/ops.js';
import { readLink } from '../render/observe.js';
import type { NetConf } from './config.js';
import type { CniEnv } from './env.js';
import { CNI_ERR, CniError } from './errors.js';
import { IpamStore } from './ipam-store.js';
import { hostIfName, planCniAttach, planCniDetach, planCniNode, podMacOf } from './plan.js';
import type { CniResult } from './version.js';

/** What the verbs touch outside themselves; injected so unit tests run them against fakes. */
export interface PluginDeps {
  readonly runner: Runner;
  /** Link names of the node namespace (the one we run in). */
  readonly links: () => Set<string>;
  readonly isNetns: (path: string) => boolean;
  readonly store: (conf: NetConf) => IpamStore;
  /** Timing notes (PODNET_CNI_TRACE): where a verb spends its time; each is printed with the time since start. */
  readonly trace?: (note: string) => void;
  /**
   * Applies plans in this process over rtnetlink (the bundled plugin, with its native addon); undefined when
   * unavailable, and then the plan's `ip` commands run as processes through `runner`.
   */
  readonly netlink?: (conf: NetConf) => NetlinkApplier | undefined;
  /** The kind of a node link when netlink is unavailable (`ip -d link`); unit tests without it skip the check. */
  readonly linkKind?: (name: string) => Promise<string | undefined>;
}

/** Runs a plan in-process over netlink when possible, else as batched `ip` processes: the same ops either way. */
export async function applyPlan(
  plan: Plan,
  conf: NetConf,
  deps: PluginDeps,
  onPhase?: (title: string, ms: number) => void,
): Promise<void> {
  const nl = deps.netlink?.(conf);
  if (nl) await nl.apply(plan, onPhase);
  else await apply(plan, deps.runner, { batch: true, ...(onPhase ? { onPhase } : {}) });
}

/** Whether the node namespace has a link by that name: one netlink request, or a read of /proc/net/dev. */
export function hasLink(conf: NetConf, deps: PluginDeps, name: string): boolean {
  const nl = deps.netlink?.(conf);
  return nl ? nl.hasLink(HOST, name) : deps.links().has(name);
}

/**
 * The kind of the node's link `conf.bridge` ('' for one without a kind: loopback, a NIC), or undefined when
 * there is none: one netlink request, or `ip -d link show` when the plugin runs without its addon.
 */
async function bridgeKind(conf: NetConf, deps: PluginDeps): Promise<string | undefined> {
  const nl = deps.netlink?.(conf);
  if (nl) return nl.linkKind(HOST, conf.bridge);
  if (!deps.links().has(conf.bridge)) return undefined;
  return deps.linkKind ? deps.linkKind(conf.bridge) : 'bridge';
}

/** `ip -d link show NAME` in the node namespace: the link's kind ('' when it has none). */
export async function linkKindByIp(runner: Runner, name: string): Promise<string | undefined> {
  const out = await runner.run(readLink(HOST, name));
  const link = (JSON.parse(out.stdout || '[]') as { linkinfo?: { info_kind?: string } }[])[0];
  return link ? (link.linkinfo?.info_kind ?? '') : undefined;
}

export const detach = (hostIf: string): Plan => [{ title: 'detach', ops: [planCniDetach(hostIf)] }];

export const storeFor = (conf: NetConf): IpamStore => new IpamStore(join(conf.dataDir, conf.name));

export const kernelError = (what: string, err: unknown): CniError => {
  const msg = err instanceof Error ? err.message : String(err);
  return new CniError(CNI_ERR.KERNEL, `${what}: ${msg}`, '', { cause: err });
};
export const rootCause = (err: unknown): unknown => (err instanceof ApplyError ? err.cause : err);

/** ADD: reserve an address, make sure the bridge exists, attach the pod; undo everything on failure. */
export async function cmdAdd(env: CniEnv, conf: NetConf, deps: PluginDeps): Promise<CniResult> {
  deps.trace?.('ADD starts');
  if (!deps.isNetns(env.netns))
    throw new CniError(
      CNI_ERR.INVALID_ENV,
      `CNI_NETNS '${env.netns}' is not a network namespace file (not on nsfs)`,
    );
  // The bridge may exist already (made by an earlier ADD); if that name is some other device (lo, the node's
  // uplink), refuse before anything is reserved or changed: a pod gateway must never land on it.
  const kind = await bridgeKind(conf, deps);
  if (kind !== undefined && kind !== 'bridge')
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      `bridge '${conf.bridge}' names an existing interface that is not a bridge (${kind ? `a ${kind} link` : 'a device without a link kind, such as loopback or a NIC'}); podnet will not touch it: name a bridge, or a name not in use`,
    );
  const hostIf = hostIfName(env.containerId, env.ifname);
  if (hasLink(conf, deps, hostIf))
    throw new CniError(
      CNI_ERR.INTERFACE_EXISTS,
      `attachment ${env.containerId}/${env.ifname} already exists (host veth '${hostIf}' is present); DEL it first`,
    );
  const store = deps.store(conf);
  const owner = {
    containerId: env.containerId,
    ifname: env.ifname,
    ...(env.args.get('K8S_POD_NAMESPACE') ? { podNamespace: env.args.get('K8S_POD_NAMESPACE') } : {}),
    ...(env.args.get('K8S_POD_NAME') ? { podName: env.args.get('K8S_POD_NAME') } : {}),
    ...(env.args.get('K8S_POD_UID') ? { podUid: env.args.get('K8S_POD_UID') } : {}),
  };
  deps.trace?.('checks done');
  const { ip, range } = await store.withLock(async () => {
    deps.trace?.('lock acquired');
    const a = store.allocate(conf.ranges, owner);
    deps.trace?.(`reserved ${a.ip}`);
    // The bridge is created under the lock, so two first ADDs do not race to create it (asked again only when
    // it was not there before the lock: the plugin never removes it).
    if (kind === undefined && !hasLink(conf, deps, conf.bridge)) {
      try {
        await applyPlan(planCniNode(conf), conf, deps);
      } catch (e) {
        store.release(a.ip.toString());
        throw kernelError(`cannot set up bridge '${conf.bridge}'`, e);
      }
    }
    return a;
  });
  const plan = planCniAttach(conf, {
    containerId: env.containerId,
    ifname: env.ifname,
    netns: env.netns,
    ip,
    range,
    pod: owner.podName ?? env.containerId.slice(0, 12),
  });
  deps.trace?.('lock released, attachment planned');
  try {
    await applyPlan(plan, conf, deps, (title, ms) => deps.trace?.(`${title} applied in ${ms.toFixed(1)} ms`));
  } catch (e) {
    // Roll back: the veth (both ends, with the pod's address and routes) and the reservation.
    if (hasLink(conf, deps, hostIf)) await applyPlan(detach(hostIf), conf, deps).catch(() => {});
    store.release(ip.toString());
    const cause = rootCause(e);
    if (e instanceof ApplyError && e.step.startsWith('link.add-veth') && isAlreadyExists(cause))
      throw new CniError(
        CNI_ERR.INTERFACE_EXISTS,
        `interface '${env.ifname}' already exists in netns '${env.netns}'`,
        cause instanceof CommandError ? cause.stderr.trim() : '',
        { cause: e },
      );
    throw kernelError(`cannot attach ${env.containerId}/${env.ifname}`, e);
  }
  return {
    cniVersion: '1.1.0',
    interfaces: [
      { name: conf.bridge },
      { name: hostIf },
      { name: env.ifname, mac: podMacOf(env.containerId, env.ifname), mtu: conf.mtu, sandbox: env.netns },
    ],
    ips: [
      {
        address: `${ip}/${range.subnet.prefix}`,
        ...(conf.isGateway ? { gateway: range.gateway.toString() } : {}),
        interface: 2,
      },
    ],
    routes: conf.isDefaultGateway ? [{ dst: '0.0.0.0/0', gw: range.gateway.toString() }] : [],
    dns: conf.dns ?? {},
  };
}

/** Addresses (without prefix) that prevResult lists, when it has any usable ones. */
export function prevIps(prev: unknown): string[] {
  const ips = (prev as { ips?: { address?: unknown }[] } | undefined)?.ips;
  if (!Array.isArray(ips)) return [];
  return ips
    .map((i) => (typeof i?.address === 'string' ? i.address.split('/')[0]! : ''))
    .filter((a) => Ip.tryParse(a) !== undefined);
}

/**
 * DEL: best effort and idempotent. Works with or without prevResult and without the netns (containerd's second
 * DEL has CNI_NETNS empty): the host end of the veth and the reservation are found from containerID + ifname.
 */
export async function cmdDel(env: CniEnv, conf: NetConf, deps: PluginDeps): Promise<void> {
  const hostIf = hostIfName(env.containerId, env.ifname);
  if (hasLink(conf, deps, hostIf)) {
    try {
      await applyPlan(detach(hostIf), conf, deps);
    } catch (e) {
      if (!isNotFound(rootCause(e))) throw kernelError(`cannot remove veth '${hostIf}'`, e);
    }
  }
  deps.store(conf).releaseByOwner(env.containerId, env.ifname, prevIps(conf.prevResult)[0]);
}

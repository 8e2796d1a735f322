import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apply } from '../apply/apply.js';
import type { NetlinkApplier } from '../apply/netlink.js';
import { ApplyError, CommandError } from '../errors.js';
import { isAlreadyExists, isNotFound } from '../exec/kernel-answers.js';
import type { Runner } from '../exec/runner.js';
import { podCapacity } from '../model/ipam.js';
import { Ip } from '../net/ip.js';
import { HOST, type Plan } from '../plan/ops.js';
import { ipIn } from '../render/netns.js';
import type { NetConf } from './config.js';
import type { CniEnv } from './env.js';
import { CNI_ERR, CniError } from './errors.js';
import { IpamStore } from './ipam-store.js';
import { HOST_IF_RE, hostIfName, planCniAttach, planCniDetach, planCniNode, podMacOf } from './plan.js';
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
}

/** Runs a plan in-process over netlink when possible, else as batched `ip` processes: the same ops either way. */
async function applyPlan(
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
function hasLink(conf: NetConf, deps: PluginDeps, name: string): boolean {
  const nl = deps.netlink?.(conf);
  return nl ? nl.hasLink(HOST, name) : deps.links().has(name);
}

const detach = (hostIf: string): Plan => [{ title: 'detach', ops: [planCniDetach(hostIf)] }];

export const storeFor = (conf: NetConf): IpamStore => new IpamStore(join(conf.dataDir, conf.name));

const kernelError = (what: string, err: unknown): CniError => {
  const msg = err instanceof Error ? err.message : String(err);
  return new CniError(CNI_ERR.KERNEL, `${what}: ${msg}`, '', { cause: err });
};
const rootCause = (err: unknown): unknown => (err instanceof ApplyError ? err.cause : err);

/** ADD: reserve an address, make sure the bridge exists, attach the pod; undo everything on failure. */
export async function cmdAdd(env: CniEnv, conf: NetConf, deps: PluginDeps): Promise<CniResult> {
  deps.trace?.('ADD starts');
  if (!deps.isNetns(env.netns))
    throw new CniError(
      CNI_ERR.INVALID_ENV,
      `CNI_NETNS '${env.netns}' is not a network namespace file (not on nsfs)`,
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
    // The bridge is created under the lock, so two first ADDs do not race to create it.
    if (!hasLink(conf, deps, conf.bridge)) {
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
function prevIps(prev: unknown): string[] {
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

interface IpJsonLink {
  ifname: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** CHECK: the attachment still matches prevResult (interface, MAC, MTU, addresses, routes, reservation). */
export async function cmdCheck(env: CniEnv, conf: NetConf, deps: PluginDeps): Promise<void> {
  const prev = conf.prevResult as CniResult | undefined;
  if (!prev || typeof prev !== 'object')
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      'CHECK needs prevResult (the result of the ADD being checked)',
    );
  if (!deps.isNetns(env.netns))
    throw new CniError(
      CNI_ERR.INVALID_ENV,
      `CNI_NETNS '${env.netns}' is not a network namespace file (not on nsfs)`,
    );
  const problems: string[] = [];
  const hostIf = hostIfName(env.containerId, env.ifname);
  if (!hasLink(conf, deps, hostIf)) problems.push(`host veth '${hostIf}' is missing`);
  if (!hasLink(conf, deps, conf.bridge)) problems.push(`bridge '${conf.bridge}' is missing`);

  const wanted = prevIps(prev);
  if (wanted.length === 0) problems.push('prevResult lists no IPv4 address');
  const store = deps.store(conf);
  for (const ip of wanted) {
    const r = store.read(ip);
    if (!r) problems.push(`address ${ip} has no reservation in '${store.dir}'`);
    else if (r.containerId !== env.containerId || r.ifname !== env.ifname)
      problems.push(
        `address ${ip} is reserved by ${r.containerId}/${r.ifname}, not ${env.containerId}/${env.ifname}`,
      );
  }

  const podNs = { kind: 'path', path: env.netns } as const;
  let link: IpJsonLink | undefined;
  try {
    const out = await deps.runner.run({ argv: ipIn(podNs, '-j', 'addr', 'show', 'dev', env.ifname) });
    link = (JSON.parse(out.stdout) as IpJsonLink[])[0];
  } catch (e) {
    if (!isNotFound(e)) throw kernelError(`cannot read interface '${env.ifname}'`, e);
  }
  if (!link) problems.push(`interface '${env.ifname}' is missing in netns '${env.netns}'`);
  else {
    const iface = prev.interfaces?.find((i) => i.name === env.ifname && i.sandbox);
    if (iface?.mac && link.address?.toLowerCase() !== iface.mac.toLowerCase())
      problems.push(`interface '${env.ifname}' has MAC ${link.address}, prevResult says ${iface.mac}`);
    if (iface?.mtu && link.mtu !== iface.mtu)
      problems.push(`interface '${env.ifname}' has MTU ${link.mtu}, prevResult says ${iface.mtu}`);
    if (!link.flags?.includes('UP')) problems.push(`interface '${env.ifname}' is down`);
    const have = new Set(
      (link.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    );
    for (const ip of prev.ips ?? [])
      if (!have.has(ip.address)) problems.push(`address ${ip.address} is missing on '${env.ifname}'`);
    if (prev.routes?.length) {
      const out = await deps.runner.run({ argv: ipIn(podNs, '-j', 'route', 'show') });
      const routes = JSON.parse(out.stdout || '[]') as { dst: string; gateway?: string }[];
      for (const rt of prev.routes) {
        const dst = rt.dst === '0.0.0.0/0' ? 'default' : rt.dst;
        if (!routes.some((x) => x.dst === dst && (!rt.gw || x.gateway === rt.gw)))
          problems.push(`route ${rt.dst}${rt.gw ? ` via ${rt.gw}` : ''} is missing in netns '${env.netns}'`);
      }
    }
  }
  if (problems.length > 0)
    throw new CniError(
      CNI_ERR.CHECK_FAILED,
      `attachment ${env.containerId}/${env.ifname} does not match prevResult: ${problems.join('; ')}`,
      problems.join('\n'),
    );
}

/** STATUS: ready when the IPAM store is usable and the range has a free address; otherwise code 50. */
export async function cmdStatus(conf: NetConf, deps: PluginDeps): Promise<void> {
  if (conf.agentLeaseFile) agentLeaseHeld(conf.agentLeaseFile);
  const store = deps.store(conf);
  try {
    store.ensureDir();
  } catch (e) {
    throw new CniError(CNI_ERR.NOT_AVAILABLE, `not ready: ${(e as Error).message}`);
  }
  const capacity = conf.ranges.reduce((n, r) => n + podCapacity(r.subnet, r), 0);
  const used = store.usedIps().size;
  if (used >= capacity)
    throw new CniError(
      CNI_ERR.NOT_AVAILABLE,
      `not ready: no free address in ${conf.ranges.map((r) => r.subnet.toString()).join(', ')} (${used} of ${capacity} reserved)`,
    );
}

/**
 * The node agent writes `{"subnet", "expiresAt"}` (ms since epoch) while it holds the node's lease and removes
 * it when the lease is lost: no file, or a lease past its expiry, is "not ready" (the agent is not running).
 */
function agentLeaseHeld(file: string): void {
  let lease: { subnet?: string; expiresAt?: number };
  try {
    lease = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new CniError(
      CNI_ERR.NOT_AVAILABLE,
      `not ready: the podnet agent holds no subnet lease ('${file}' is missing)`,
    );
  }
  if (typeof lease.expiresAt !== 'number' || lease.expiresAt < Date.now())
    throw new CniError(
      CNI_ERR.NOT_AVAILABLE,
      `not ready: the podnet agent's lease of ${lease.subnet ?? '?'} has expired (per '${file}')`,
    );
}

/**
 * GC: release every reservation and remove every host veth of ours on the bridge whose attachment is not in
 * `cni.dev/valid-attachments`. Continues past errors and reports them all at the end.
 */
export async function cmdGc(
  conf: NetConf,
  deps: PluginDeps,
): Promise<{ released: string[]; removed: string[] }> {
  if (!conf.validAttachments)
    throw new CniError(
      CNI_ERR.INVALID_CONFIG,
      "GC needs 'cni.dev/valid-attachments' in the configuration (refusing to release every attachment)",
    );
  const validIfs = new Set(conf.validAttachments.map((a) => hostIfName(a.containerID, a.ifname)));
  const valid = new Set(conf.validAttachments.map((a) => `${a.containerID}/${a.ifname}`));
  const store = deps.store(conf);
  const errors: string[] = [];
  const released: string[] = [];
  const removed: string[] = [];
  const removeLink = async (name: string) => {
    try {
      await applyPlan(detach(name), conf, deps);
      removed.push(name);
    } catch (e) {
      if (!isNotFound(rootCause(e))) errors.push(`veth '${name}': ${(e as Error).message}`);
    }
  };
  await store.withLock(async () => {
    for (const r of store.list()) {
      if (valid.has(`${r.containerId}/${r.ifname}`)) continue;
      try {
        if (store.release(r.ip)) released.push(r.ip);
      } catch (e) {
        errors.push(`reservation ${r.ip}: ${(e as Error).message}`);
      }
      if (r.containerId) {
        const hostIf = hostIfName(r.containerId, r.ifname);
        if (hasLink(conf, deps, hostIf)) await removeLink(hostIf);
      }
    }
    if (hasLink(conf, deps, conf.bridge)) {
      try {
        const out = await deps.runner.run({
          argv: ipIn({ kind: 'host' }, '-j', 'link', 'show', 'master', conf.bridge),
        });
        const ports = JSON.parse(out.stdout || '[]') as { ifname: string }[];
        for (const p of ports) {
          const name = p.ifname.split('@')[0]!;
          if (HOST_IF_RE.test(name) && !validIfs.has(name) && !removed.includes(name)) await removeLink(name);
        }
      } catch (e) {
        errors.push(`listing ports of '${conf.bridge}': ${(e as Error).message}`);
      }
    }
  });
  if (errors.length > 0)
    throw new CniError(
      CNI_ERR.GC_INCOMPLETE,
      `GC could not release everything: ${errors.join('; ')}`,
      errors.join('\n'),
    );
  return { released, removed };
}

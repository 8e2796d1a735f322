import { readFileSync } from 'node:fs';
import { isNotFound } from '../exec/kernel-answers.js';
import { podCapacity } from '../model/ipam.js';
import { HOST } from '../plan/ops.js';
import { readAddrs, readBridgePorts, readRoutes } from '../render/observe.js';
import type { NetConf } from './config.js';
import type { CniEnv } from './env.js';
import { CNI_ERR, CniError } from './errors.js';
import { HOST_IF_RE, hostIfName } from './plan.js';
import { applyPlan, detach, hasLink, kernelError, type PluginDeps, prevIps, rootCause } from './plugin.js';
import type { CniResult } from './version.js';

/** The verbs that read a node rather than change a pod: CHECK, STATUS and GC (ADD and DEL: plugin.ts). */

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
    const out = await deps.runner.run(readAddrs(podNs, env.ifname));
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
      const out = await deps.runner.run(readRoutes(podNs));
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
        const out = await deps.runner.run(readBridgePorts(HOST, conf.bridge));
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

interface IpJsonLink {
  ifname: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
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

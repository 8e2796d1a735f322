import type { Cluster } from '../model/resolve.js';
import { serviceKey, servicesByKey } from '../model/service.js';
import { selects } from '../model/service-endpoints.js';
import type { Netns, Op } from '../plan/ops.js';
import {
  type ProxyModel,
  type ProxyServicePort,
  proxySettingsOf,
  servicePortsOf,
} from '../plan/services/model.js';
import { type ProxyUses, planNftDiffOfPart } from '../plan/services/nft-diff.js';
import { staleUdpOps } from '../plan/services/plan.js';

/**
 * The service proxy's part of a lab change, planned from the Services it touched only (pure): their ports are
 * built from the lab's spec before and after the change (the same servicePortsOf the whole model uses), and
 * diffed against the whole previous model's use counts (what the lab recorded after its last sync,
 * lab/proxy-uses.ts). The result is the diff of the two whole models (proxy-part.test.ts).
 */

/** What a lab edit changed that the proxy reads: Services by `namespace/name`, or pods by name. */
export type ProxyTouch = { readonly services: readonly string[] } | { readonly pods: readonly string[] };

/**
 * The Services whose ports may differ between `prev` and `next`: the named ones, or those whose selector
 * picks one of the pods (its labels before or after) or whose given endpoints address it. A scan of the
 * selectors, not of anyone's endpoints.
 */
export function touchedServices(prev: Cluster, next: Cluster, t: ProxyTouch): Set<string> {
  if ('services' in t) return new Set(t.services);
  const out = new Set<string>();
  for (const c of [prev, next]) {
    // Each pod's address as text and its namespace once, not once per Service: every Service is tested.
    const pods = c.pods
      .filter((p) => t.pods.includes(p.name))
      .map((p) => ({ ip: p.ip.toString(), ns: p.namespace ?? 'default', labels: p.labels }));
    for (const s of c.services)
      for (const p of pods) {
        const given = s.endpoints?.some((e) => e.ip === p.ip) ?? false;
        if (given || (p.ns === s.namespace && !s.endpoints && selects(s.selector, p.labels)))
          out.add(serviceKey(s));
      }
  }
  return out;
}

/** The ports of the named Services only, sorted by id as a model keeps them: O(named), by the key index. */
export function portsOfServices(c: Cluster, keys: ReadonlySet<string>, node: string): ProxyServicePort[] {
  const byKey = servicesByKey(c.services);
  return [...keys]
    .flatMap((k) => {
      const s = byKey.get(k);
      return s ? servicePortsOf(s, c.pods, node) : [];
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * One node's proxy ops for a change of the `keys` Services, and the whole next model's use counts.
 * Undefined when a partial sync cannot express it (not nftables, node-wide settings changed): sync whole.
 */
export function planLabProxyPart(
  prev: Cluster,
  next: Cluster,
  node: string,
  keys: ReadonlySet<string>,
  uses: ProxyUses,
  netns: Netns,
): { ops: Op[]; uses: ProxyUses } | undefined {
  const proxied = (c: Cluster) => c.spec.sameNode === 'bridge' && c.spec.proxy !== 'none';
  if (!proxied(prev) || !proxied(next)) return undefined;
  const a: ProxyModel = { ...proxySettingsOf(prev, node), services: portsOfServices(prev, keys, node) };
  const b: ProxyModel = { ...proxySettingsOf(next, node), services: portsOfServices(next, keys, node) };
  if (a.mode !== 'nftables' || b.mode !== 'nftables' || a.serviceCIDR !== b.serviceCIDR) return undefined;
  const r = planNftDiffOfPart(a, b, uses);
  if (!r.tx) return undefined;
  const ops: Op[] = r.tx.length
    ? [
        {
          kind: 'nft.tx',
          netns,
          tx: r.tx,
          note: `${node}: service proxy, partial sync of ${keys.size} service(s): only their map elements, one atomic transaction`,
        },
      ]
    : [];
  return { ops: [...ops, ...staleUdpOps(netns, a, b)], uses: r.uses };
}

import type { Netns, Op } from '../ops.js';
import {
  bridgeHooksOp,
  createBridge,
  createTunnel,
  linkDel,
  linkUp,
  masqueradeOp,
  optionalSysctl,
  removeMasqueradeOp,
  sameTunnel,
  sysctlOp,
  tunnelAddr,
  tunnelKey,
} from './devices.js';
import { type NodeModel, type NodeState, ROUTE_PROTO, type RouteModel } from './model.js';

/** Where a node's ops run: a lab node's namespace, or the host for the agent and the CNI plugin. */
export interface NodeSyncTarget {
  readonly netns: Netns;
}

/** One difference between a node's observed and desired state, and the ops that remove it. */
export interface NodeDrift {
  /** What differs, in a line ("route 10.200.2.0/24 via 10.200.2.0 dev vxlan.1 missing"). */
  readonly what: string;
  readonly ops: readonly Op[];
  /** Position in the sync order (see RANK). */
  readonly rank: number;
}

/**
 * The sync order, so traffic that should keep flowing never stops: devices first, then what they carry
 * (FDB entries and neighbours, then the routes that need them, as flannel does), the proxy, and only then the
 * deletions (routes before the entries they use, the tunnel device last). FDB entries (`bridge`) come before
 * the neighbours and after the routes' deletion, so that the `ip` lines of a peer's change are contiguous: one
 * `ip -batch` and one `bridge -batch` round trip per change, not three (a peer's join on a busy node).
 */
export const RANK = {
  bridge: 0,
  sysctl: 1,
  tunnel: 2,
  fdbAdd: 3,
  neighAdd: 4,
  routeAdd: 5,
  proxy: 6,
  policy: 6,
  routeDel: 7,
  neighDel: 8,
  fdbDel: 9,
  tunnelDel: 10,
} as const;

/**
 * The drift of a node's own network, unsorted (push order; `sortDrift` orders it): the bridge, sysctls, tunnel,
 * neighbours, FDB entries, routes and the masquerade table. The service proxy and policy are sync.ts's; the CNI
 * plugin, whose node model has neither, plans with this alone and so loads none of their planners.
 */
export function networkDrift(observed: NodeState, desired: NodeModel, target: NodeSyncTarget): NodeDrift[] {
  const ns = target.netns;
  const node = desired.node;
  const out: NodeDrift[] = [];
  const drift = (rank: number, what: string, ...ops: Op[]) => out.push({ rank, what, ops });
  const note = (why: string) => `${node}: ${why}`;

  // Bridge.
  const wb = desired.bridge;
  const sb = observed.bridge;
  if (wb && !sb) drift(RANK.bridge, `bridge ${wb.name} missing`, ...createBridge(ns, node, wb));
  else if (wb && sb) {
    if (sb.mtu !== wb.mtu || sb.mac !== wb.mac)
      drift(RANK.bridge, `bridge ${wb.name}: mtu ${sb.mtu} mac ${sb.mac}, want mtu ${wb.mtu} mac ${wb.mac}`, {
        kind: 'link.set',
        netns: ns,
        name: wb.name,
        ...(sb.mtu !== wb.mtu ? { mtu: wb.mtu } : {}),
        ...(sb.mac !== wb.mac ? { mac: wb.mac } : {}),
        note: note(`restore bridge ${wb.name}'s MTU and fixed MAC`),
      });
    if (!!sb.nfCallIptables !== !!wb.nfCallIptables)
      drift(
        RANK.bridge,
        `bridge ${wb.name}: nf_call_iptables ${sb.nfCallIptables ? 1 : 0}, want ${wb.nfCallIptables ? 1 : 0}`,
        bridgeHooksOp(ns, node, wb),
      );
    if (wb.address && sb.address !== wb.address)
      drift(RANK.bridge, `bridge ${wb.name}: address ${wb.address} missing`, {
        kind: 'addr.add',
        netns: ns,
        dev: wb.name,
        cidr: wb.address,
        note: note(`give the bridge the pod CIDR's gateway address, pods' next hop off the node`),
      });
    if (observed.linksDown?.includes(wb.name))
      drift(RANK.bridge, `bridge ${wb.name} is down`, linkUp(ns, node, wb.name, 'the bridge'));
  }

  // Sysctls: only the keys podnet sets.
  // Observed '' is a key the kernel does not have (observe reads with `sysctl -e`).
  for (const [key, value] of Object.entries(desired.sysctls))
    if (observed.sysctls[key] !== value && !(observed.sysctls[key] === '' && optionalSysctl(key, value)))
      drift(
        RANK.sysctl,
        `sysctl ${key} = ${observed.sysctls[key] || (observed.sysctls[key] === '' ? '(absent)' : '(unknown)')}, want ${value}`,
        sysctlOp(ns, node, key, value),
      );

  // Tunnel device.
  const wt = desired.tunnel;
  const st = observed.tunnel;
  if (wt && (!st || !sameTunnel(st, wt))) {
    const why = st
      ? `tunnel ${wt.name} differs (${tunnelKey(st)}, want ${tunnelKey(wt)})`
      : `tunnel ${wt.name} missing`;
    drift(RANK.tunnel, why, ...(st ? [linkDel(ns, node, st.name)] : []), ...createTunnel(ns, node, wt));
  } else if (wt && st) {
    if (st.mtu !== wt.mtu || (wt.kind === 'vxlan' && st.kind === 'vxlan' && st.master !== wt.master))
      drift(RANK.tunnel, `tunnel ${wt.name}: mtu/master differ`, {
        kind: 'link.set',
        netns: ns,
        name: wt.name,
        mtu: wt.mtu,
        ...(wt.kind === 'vxlan' && wt.master ? { master: wt.master } : {}),
        note: note(`restore ${wt.name}'s MTU${wt.kind === 'vxlan' && wt.master ? ' and bridge port' : ''}`),
      });
    const want = wt.address;
    if (want && st.address !== want)
      drift(RANK.tunnel, `tunnel ${wt.name}: address ${want} missing`, tunnelAddr(ns, node, wt, want));
    if (observed.linksDown?.includes(wt.name))
      drift(RANK.tunnel, `tunnel ${wt.name} is down`, linkUp(ns, node, wt.name, wt.name));
  }
  if (st && (!wt || wt.name !== st.name))
    drift(RANK.tunnelDel, `tunnel ${st.name} not desired`, linkDel(ns, node, st.name));

  // Neighbours, FDB, routes: keyed, replaced when different, deleted when not desired.
  keyed(
    observed.neighbours,
    desired.neighbours,
    (n) => `${n.dev}|${n.ip}`,
    (a, b) => a.mac === b.mac,
    (n, had) =>
      drift(RANK.neighAdd, `neighbour ${n.ip} dev ${n.dev} ${had ? 'has another MAC' : 'missing'}`, {
        kind: 'neigh.replace',
        netns: ns,
        dev: n.dev,
        ip: n.ip,
        mac: n.mac,
        note: note(n.why),
      }),
    (n) =>
      drift(RANK.neighDel, `neighbour ${n.ip} dev ${n.dev} not desired`, {
        kind: 'neigh.del',
        netns: ns,
        dev: n.dev,
        ip: n.ip,
        note: note(
          `forget neighbour ${n.ip}${n.peer ? ` (${n.peer}'s VTEP)` : ''}: not in the desired state`,
        ),
      }),
  );
  keyed(
    observed.fdb,
    desired.fdb,
    (f) => `${f.dev}|${f.mac}`,
    (a, b) => a.dst === b.dst,
    (f, had) =>
      drift(RANK.fdbAdd, `fdb ${f.mac} dev ${f.dev} dst ${f.dst} ${had ? 'has another dst' : 'missing'}`, {
        kind: 'fdb.replace',
        netns: ns,
        dev: f.dev,
        mac: f.mac,
        dst: f.dst,
        note: note(f.why),
      }),
    (f) =>
      drift(RANK.fdbDel, `fdb ${f.mac} dev ${f.dev} dst ${f.dst} not desired`, {
        kind: 'fdb.del',
        netns: ns,
        dev: f.dev,
        mac: f.mac,
        dst: f.dst,
        note: note(`forget FDB entry ${f.mac} -> ${f.dst}: not in the desired state`),
      }),
  );
  keyed(
    observed.routes,
    desired.routes,
    (r) => r.dst,
    (a, b) => a.via === b.via && a.dev === b.dev && !!a.onlink === !!b.onlink,
    (r, had) =>
      drift(RANK.routeAdd, `route ${routeText(r)} ${had ? `differs (now ${routeText(had)})` : 'missing'}`, {
        kind: 'route.replace',
        netns: ns,
        dst: r.dst,
        ...(r.via ? { via: r.via } : {}),
        dev: r.dev,
        ...(r.onlink ? { onlink: true } : {}),
        proto: ROUTE_PROTO,
        note: note(r.why),
      }),
    (r) =>
      drift(RANK.routeDel, `route ${routeText(r)} not desired`, {
        kind: 'route.del',
        netns: ns,
        dst: r.dst,
        dev: r.dev,
        proto: ROUTE_PROTO,
        note: note(
          `forget the route to ${r.dst}${r.peer ? ` (${r.peer}'s pods)` : ''}: not in the desired state`,
        ),
      }),
  );

  // Egress masquerade outside the proxy (CNI ipMasq): one table, replaced whole when it differs.
  const wm = desired.masquerade;
  const sm = observed.masquerade;
  if (wm && JSON.stringify(sm) !== JSON.stringify(wm))
    drift(RANK.proxy, `masquerade table ip ${wm.table} ${sm ? 'differs' : 'missing'}`, masqueradeOp(ns, wm));
  else if (sm && !wm)
    drift(RANK.proxy, `masquerade table ip ${sm.table} not desired`, removeMasqueradeOp(ns, sm));

  return out;
}

/** Drift in sync order: by RANK, and in push order within a rank. */
export const sortDrift = (drift: readonly NodeDrift[]): NodeDrift[] =>
  drift
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.rank - b.d.rank || a.i - b.i)
    .map((x) => x.d);

/** The ops of a node without a service proxy or policy (the CNI plugin's bridge), in sync order. */
export function planNetworkSync(observed: NodeState, desired: NodeModel, target: NodeSyncTarget): Op[] {
  if (desired.proxy || desired.policy || observed.proxy || observed.policy || observed.policyDamaged)
    throw new Error(`internal: ${desired.node} has a service proxy or policy: plan it with planNodeSync`);
  return sortDrift(networkDrift(observed, desired, target)).flatMap((d) => d.ops);
}

/** Walks observed and desired entries by key: adds (or replaces) what is missing or different, deletes the rest. */
function keyed<T extends { why: string }>(
  seen: readonly T[],
  want: readonly T[],
  key: (x: T) => string,
  equal: (a: T, b: T) => boolean,
  add: (x: T, had: T | undefined) => void,
  del: (x: T) => void,
): void {
  const have = new Map(seen.map((x) => [key(x), x]));
  const keep = new Set<string>();
  for (const w of want) {
    const k = key(w);
    keep.add(k);
    const h = have.get(k);
    if (!h || !equal(h, w)) add(w, h);
  }
  for (const [k, h] of have) if (!keep.has(k)) del(h);
}

const routeText = (r: RouteModel) =>
  `${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;

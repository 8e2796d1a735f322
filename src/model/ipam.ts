import { Cidr, Ip } from '../net/ip.js';

/**
 * IP address management, pure. Two levels, as in Kubernetes: node pod CIDRs carved from the cluster CIDR
 * (kube-controller-manager's --allocate-node-cidrs), and pod IPs from a node's pod CIDR (the CNI IPAM's job),
 * with .1 kept for the node's gateway. Persistence lives with the callers (the lab's state file, the CNI store).
 */

/** The gateway of a node's pod CIDR: its first address, given to the node's bridge. */
export const gatewayOf = (podCIDR: Cidr): Ip => podCIDR.network.add(1);

/**
 * Usable pod addresses of a pod CIDR: everything but network, gateway and broadcast; with `bounds` (a host-local
 * style range, see PoolRange), only what `rangeStart`..`rangeEnd` holds besides the gateway.
 */
export function podCapacity(podCIDR: Cidr, bounds?: Omit<PoolRange, 'subnet'>): number {
  if (!bounds) return Math.max(0, podCIDR.size - 3);
  const { first, last, gateway } = rangeBounds({ ...bounds, subnet: podCIDR });
  if (last < first) return 0;
  return last - first + 1 - (gateway >= first && gateway <= last ? 1 : 0);
}

/**
 * One range of a host-local style range set: pods get addresses from `start` to `end` (inclusive) of `subnet`,
 * never `gateway`. Defaults as host-local's: start = network + 1, end = broadcast - 1, gateway = network + 1.
 */
export interface PoolRange {
  readonly subnet: Cidr;
  readonly gateway?: Ip;
  readonly start?: Ip;
  readonly end?: Ip;
}

/** A range's first and last candidate addresses and its gateway, as numbers. */
export function rangeBounds(r: PoolRange): { first: number; last: number; gateway: number } {
  return {
    first: (r.start ?? r.subnet.network.add(1)).value,
    last: r.end?.value ?? r.subnet.broadcast.value - 1,
    gateway: (r.gateway ?? gatewayOf(r.subnet)).value,
  };
}

/**
 * The next free address of a range set, host-local's RangeIter: from the address after `after` to the end of its
 * range, then the following ranges in order (wrapping to the first), then the start of `after`'s own range up to
 * `after`. Without `after` (or when no range holds it) the search starts at the first range's start. Gateways
 * are skipped. Returns the address and the index of its range, or undefined when every range is full.
 */
export function nextFreeInRanges(
  ranges: readonly PoolRange[],
  used: ReadonlySet<number>,
  after?: Ip,
): { ip: Ip; index: number } | undefined {
  const bounds = ranges.map(rangeBounds);
  const at = after ? bounds.findIndex((b) => after.value >= b.first && after.value <= b.last) : -1;
  const segments: [lo: number, hi: number, index: number][] = [];
  if (at < 0) for (const [i, b] of bounds.entries()) segments.push([b.first, b.last, i]);
  else {
    const b = bounds[at]!;
    const a = (after as Ip).value;
    segments.push([a + 1, b.last, at]);
    for (let k = 1; k < bounds.length; k++) {
      const i = (at + k) % bounds.length;
      segments.push([bounds[i]!.first, bounds[i]!.last, i]);
    }
    segments.push([b.first, a, at]);
  }
  for (const [lo, hi, index] of segments)
    for (let v = lo; v <= hi; v++)
      if (v !== bounds[index]!.gateway && !used.has(v)) return { ip: Ip.fromNumber(v), index };
  return undefined;
}

/** Whether `ip` may be given to a pod in `podCIDR`. */
export function isAssignable(podCIDR: Cidr, ip: Ip): boolean {
  return podCIDR.contains(ip) && ip.value > podCIDR.network.value + 1 && ip.value < podCIDR.broadcast.value;
}

/**
 * The next free pod address after `after` (round-robin, like host-local), or the lowest free one when `after`
 * is absent. Undefined when the range is full.
 */
export function nextFreeIp(podCIDR: Cidr, used: ReadonlySet<number>, after?: Ip): Ip | undefined {
  const first = podCIDR.network.value + 2;
  const last = podCIDR.broadcast.value - 1;
  if (last < first) return undefined;
  const span = last - first + 1;
  const start = after && after.value >= first && after.value <= last ? after.value - first + 1 : 0;
  for (let k = 0; k < span; k++) {
    const v = first + ((start + k) % span);
    if (!used.has(v)) return Ip.fromNumber(v);
  }
  return undefined;
}

export interface NodeCidrRequest {
  readonly name: string;
  readonly pinned?: Cidr;
}

/**
 * Gives every node a pod CIDR: pinned ones first, then those it had before (`previous`), then the lowest
 * free subnet in order. Returns the assignment and the names of nodes that could not get one.
 */
export function allocateNodeCidrs(
  cluster: Cidr,
  maskSize: number,
  nodes: readonly NodeCidrRequest[],
  previous: ReadonlyMap<string, Cidr> = new Map(),
): { assigned: Map<string, Cidr>; exhausted: string[] } {
  const assigned = new Map<string, Cidr>();
  const taken: Cidr[] = [];
  const take = (name: string, c: Cidr) => {
    assigned.set(name, c);
    taken.push(c);
  };
  for (const n of nodes) if (n.pinned) take(n.name, n.pinned);
  for (const n of nodes) {
    const p = previous.get(n.name);
    if (
      !assigned.has(n.name) &&
      p &&
      p.prefix === maskSize &&
      cluster.contains(p.network) &&
      !taken.some((t) => t.overlaps(p))
    ) {
      take(n.name, p);
    }
  }
  const count = 2 ** (maskSize - cluster.prefix);
  const exhausted: string[] = [];
  let index = 0;
  for (const n of nodes) {
    if (assigned.has(n.name)) continue;
    let found: Cidr | undefined;
    for (; index < count; index++) {
      const c = cluster.subnet(maskSize, index);
      if (!taken.some((t) => t.overlaps(c))) {
        found = c;
        break;
      }
    }
    if (found) take(n.name, found);
    else exhausted.push(n.name);
  }
  return { assigned, exhausted };
}

export interface PodIpRequest {
  readonly name: string;
  readonly pinned?: Ip;
}

/** Gives every pod of one node an address: pinned first, then previous, then the lowest free. */
export function allocatePodIps(
  podCIDR: Cidr,
  pods: readonly PodIpRequest[],
  previous: ReadonlyMap<string, Ip> = new Map(),
): { assigned: Map<string, Ip>; exhausted: string[] } {
  const assigned = new Map<string, Ip>();
  const used = new Set<number>();
  for (const p of pods) {
    if (p.pinned) {
      assigned.set(p.name, p.pinned);
      used.add(p.pinned.value);
    }
  }
  for (const p of pods) {
    const prev = previous.get(p.name);
    if (!assigned.has(p.name) && prev && isAssignable(podCIDR, prev) && !used.has(prev.value)) {
      assigned.set(p.name, prev);
      used.add(prev.value);
    }
  }
  const exhausted: string[] = [];
  for (const p of pods) {
    if (assigned.has(p.name)) continue;
    const ip = nextFreeIp(podCIDR, used);
    if (!ip) {
      exhausted.push(p.name);
      continue;
    }
    assigned.set(p.name, ip);
    used.add(ip.value);
  }
  return { assigned, exhausted };
}

export { Cidr, Ip };

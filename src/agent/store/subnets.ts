import { Cidr } from '../../net/ip.js';
import type { LeaseAttrs, NetworkConfig, SubnetLease } from './store.js';

/**
 * Which subnet a node should try, in order (pure): the subnet it holds already (a lease with its node name,
 * else its public IP) as a take-over of that lease; else its previous subnet if free; else every free subnet,
 * lowest first. Each candidate is then tried by one transaction, so a lost race just moves to the next.
 */
export function subnetCandidates(
  config: NetworkConfig,
  leases: readonly SubnetLease[],
  attrs: LeaseAttrs,
  previous?: string,
): { own?: SubnetLease; free: string[] } {
  const own =
    leases.find((l) => l.attrs.node === attrs.node) ??
    leases.find((l) => l.attrs.publicIP === attrs.publicIP);
  if (own) return { own, free: [] };
  const net = Cidr.parse(config.network);
  const taken = leases.map((l) => Cidr.tryParse(l.subnet)).filter((c): c is Cidr => c !== undefined);
  const isFree = (c: Cidr) =>
    net.contains(c.network) && c.prefix === config.subnetLen && !taken.some((t) => t.overlaps(c));
  const free: string[] = [];
  const prev = previous ? Cidr.tryParse(previous) : undefined;
  if (prev && isFree(prev)) free.push(prev.toString());
  const count = 2 ** (config.subnetLen - net.prefix);
  for (let i = 0; i < count; i++) {
    const c = net.subnet(config.subnetLen, i);
    if (isFree(c) && !(prev && c.equals(prev))) free.push(c.toString());
  }
  return { free };
}

/** The key segment of a subnet: flannel's `10.200.3.0-24` (no `/` inside a key segment). */
export const subnetKey = (cidr: string): string => cidr.replace('/', '-');
export const subnetOfKey = (segment: string): string => segment.replace(/-(\d+)$/, '/$1');

/** The spec-override flags of `lab up` and `lab explain` (each replaces one field of the Cluster document). */
export const OVERRIDE_FLAGS = {
  'same-node': { type: 'string' },
  'cross-node': { type: 'string' },
  proxy: { type: 'string' },
  'vxlan-learning': { type: 'string' },
} as const;

export const OVERRIDE_HELP = `  --same-node MODE       override spec.sameNode: bridge | veth
  --cross-node MODE      override spec.crossNode: none | host-gw | vxlan | ipip
  --proxy MODE           override spec.proxy: nftables | iptables | none
  --vxlan-learning MODE  override spec.vxlan.learning: unicast | multicast`;

/** The overrides given, keyed by the spec field they replace (dotted for nested ones). */
export function overridesOf(v: {
  'same-node'?: string | undefined;
  'cross-node'?: string | undefined;
  proxy?: string | undefined;
  'vxlan-learning'?: string | undefined;
}): Record<string, string> {
  const o: Record<string, string> = {};
  if (v['same-node'] !== undefined) o.sameNode = v['same-node'];
  if (v['cross-node'] !== undefined) o.crossNode = v['cross-node'];
  if (v.proxy !== undefined) o.proxy = v.proxy;
  if (v['vxlan-learning'] !== undefined) o['vxlan.learning'] = v['vxlan-learning'];
  return o;
}

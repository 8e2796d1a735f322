import type { Netns, Op } from '../ops.js';
import type { PolicyNodeModel } from './model.js';

/** Where one node's policy table lives and what it held last. */
export interface PolicySyncParams {
  readonly netns: Netns;
  /** The model applied last on this node (absent: nothing of ours there yet, or a full resync). */
  readonly prev?: PolicyNodeModel;
  readonly next: PolicyNodeModel;
}

/**
 * One sync of one node's NetworkPolicy enforcement (pure): a full table the first time (with the sysctl that
 * makes bridged same-node traffic pass the forward hook), afterwards only the changed elements, sets and
 * chains; nothing when the models are equal.
 */
export function planPolicySync(p: PolicySyncParams): Op[] {
  const node = p.next.node;
  if (p.prev && samePolicyModel(p.prev, p.next)) return [];
  if (!p.prev)
    return [
      {
        kind: 'sysctl.set',
        netns: p.netns,
        key: 'net.bridge.bridge-nf-call-iptables',
        value: '1',
        note: `${node}: bridged frames (pod to pod on this node) pass the IP forward hook (br_netfilter), where policies are enforced`,
      },
      {
        kind: 'nft.policy',
        netns: p.netns,
        next: p.next,
        note: `${node}: NetworkPolicy table podnet-policy (${Object.keys(p.next.chains).length} isolated pod direction(s))`,
      },
    ];
  return [
    {
      kind: 'nft.policy',
      netns: p.netns,
      prev: p.prev,
      next: p.next,
      note: `${node}: NetworkPolicy changes only (elements, sets, chains that differ)`,
    },
  ];
}

export function samePolicyModel(a: PolicyNodeModel, b: PolicyNodeModel): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

import type { Netns, Op } from '../ops.js';
import { type Range, rangeOfText } from './intervals.js';
import type { PolicyNodeModel } from './model.js';

/** Where one node's policy table lives and what it held last. */
export interface PolicySyncParams {
  readonly netns: Netns;
  /** The model applied last on this node (absent: nothing of ours there yet, or a full resync). */
  readonly prev?: PolicyNodeModel;
  readonly next: PolicyNodeModel;
  /** Set br_netfilter's sysctl on the first sync (false when the service proxy phase already does). @default true */
  readonly sysctl?: boolean;
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
        key: 'net.netfilter.nf_conntrack_tcp_loose',
        value: '0',
        note: `${node}: no mid-stream TCP pickup: a connection whose conntrack entry a policy change deleted stays cut in both directions`,
      },
      ...(p.sysctl === false
        ? []
        : [
            {
              kind: 'sysctl.set' as const,
              netns: p.netns,
              key: 'net.bridge.bridge-nf-call-iptables',
              value: '1',
              note: `${node}: bridged frames (pod to pod on this node) pass the IP forward hook (br_netfilter), where policies are enforced`,
            },
          ]),
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

/**
 * Whether `next` may deny something `prev` allowed: a newly isolated pod direction, an address range no longer
 * allowed on every port, or a port box gone (compared as text: a re-cut box counts, which only costs a look).
 */
export function stricter(prev: PolicyNodeModel, next: PolicyNodeModel): boolean {
  for (const name of Object.keys(next.chains)) if (!prev.chains[name]) return true;
  for (const [set, els] of Object.entries(prev.sets)) {
    const now = next.sets[set];
    if (!now) continue;
    if (set.endsWith('-any')) {
      const cover: Range[] = now.map(rangeOfText);
      if (els.map(rangeOfText).some(([lo, hi]) => !cover.some(([a, b]) => a <= lo && hi <= b))) return true;
    } else {
      const have = new Set(now);
      if (els.some((e) => !have.has(e))) return true;
    }
  }
  return false;
}

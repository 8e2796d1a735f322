/**
 * The truth-table scenarios (cyclonus' world: namespaces x, y, z labelled ns=<name>, pods a, b, c labelled
 * pod=<name>, servers on TCP and UDP 80 and 81 with named ports serve-<port>-<tcp|udp>). Each scenario is the
 * whole desired state after a change: its policies, plus pod and namespace labels that differ from the
 * defaults. Shared by the unit tests (evaluator against the nftables model) and the e2e (against the kernel).
 */

export interface Scenario {
  readonly name: string;
  /** Which semantics bullet it covers. */
  readonly covers: string;
  readonly policies: readonly Record<string, unknown>[];
  /** Pod (`ns/name`) -> its labels, replacing the default `pod=<name>`. */
  readonly podLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Namespace -> its labels, replacing the default `ns=<name>`. */
  readonly nsLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export const netpol = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});

const podSel = (pod: string) => ({ matchLabels: { pod } });
const nsSel = (ns: string) => ({ matchLabels: { ns } });
const tcp = (port: number | string, endPort?: number) => ({
  protocol: 'TCP',
  port,
  ...(endPort ? { endPort } : {}),
});
const udp = (port: number | string) => ({ protocol: 'UDP', port });

const denyIngressX = netpol('x', 'deny-ingress', { podSelector: {} });
const allowFromB = netpol('x', 'allow-from-b', {
  podSelector: podSel('a'),
  ingress: [{ from: [{ podSelector: podSel('b') }] }],
});

export const SCENARIOS: readonly Scenario[] = [
  { name: 'no policy', covers: 'not isolated: everything allowed', policies: [] },
  { name: 'default deny ingress in x', covers: 'isolation by policyTypes default', policies: [denyIngressX] },
  {
    name: 'default deny egress in x',
    covers: 'policyTypes Egress, egress: []',
    policies: [netpol('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })],
  },
  {
    name: 'deny all both directions in y',
    covers: 'both policyTypes, empty rule lists',
    policies: [netpol('y', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
  },
  {
    name: 'allow all ingress beside default deny',
    covers: 'ingress: [{}] allows all; allows are a union',
    policies: [denyIngressX, netpol('x', 'allow-all', { podSelector: podSel('a'), ingress: [{}] })],
  },
  {
    name: 'allow x/a from namespace y',
    covers: 'namespaceSelector',
    policies: [
      netpol('x', 'allow-from-y', {
        podSelector: podSel('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }],
      }),
    ],
  },
  {
    name: 'allow x/a from pod b of x',
    covers: 'podSelector in the policy namespace',
    policies: [allowFromB],
  },
  {
    name: 'pod AND namespace in one peer',
    covers: 'podSelector and namespaceSelector in one peer (AND)',
    policies: [
      netpol('x', 'and', {
        podSelector: podSel('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y'), podSelector: podSel('b') }] }],
      }),
    ],
  },
  {
    name: 'pod OR namespace as two peers',
    covers: 'several peers (OR)',
    policies: [
      netpol('x', 'or', {
        podSelector: podSel('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y') }, { podSelector: podSel('b') }] }],
      }),
    ],
  },
  {
    name: 'matchExpressions In on namespaces',
    covers: 'matchExpressions In',
    policies: [
      netpol('x', 'in', {
        podSelector: podSel('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y', 'z'] }] },
              },
            ],
          },
        ],
      }),
    ],
  },
  {
    name: 'matchExpressions NotIn on pods',
    covers: 'matchExpressions NotIn, podSelector of the isolated pods by expression',
    policies: [
      netpol('y', 'notin', {
        podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] },
        ingress: [
          {
            from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a'] }] } }],
          },
        ],
      }),
    ],
  },
  {
    name: 'matchExpressions Exists and DoesNotExist',
    covers: 'matchExpressions Exists, DoesNotExist',
    podLabels: { 'z/b': { pod: 'b', team: 'blue' } },
    policies: [
      netpol('z', 'exists', {
        podSelector: { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] },
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'Exists' }] },
                podSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] },
              },
            ],
          },
        ],
      }),
    ],
  },
  {
    name: 'ipBlock with except (ingress)',
    covers: 'ipBlock with except',
    policies: [
      netpol('x', 'ipblock', {
        podSelector: podSel('a'),
        ingress: [{ from: [{ ipBlock: { cidr: '10.200.0.0/16', except: ['10.200.1.0/24'] } }] }],
      }),
    ],
  },
  {
    name: 'ipBlock egress to one node range',
    covers: 'egress ipBlock',
    policies: [
      netpol('x', 'egress-ipblock', {
        podSelector: podSel('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.200.2.0/24' } }] }],
      }),
    ],
  },
  {
    name: 'named port on ingress',
    covers: 'named ports, resolved on the destination pod',
    policies: [
      netpol('x', 'named-in', {
        podSelector: podSel('a'),
        ingress: [{ ports: [tcp('serve-81-tcp')] }],
      }),
    ],
  },
  {
    name: 'named port on egress',
    covers: 'named ports on egress, resolved per destination pod',
    policies: [
      netpol('y', 'named-out', {
        podSelector: podSel('a'),
        policyTypes: ['Egress'],
        egress: [{ ports: [udp('serve-80-udp')] }],
      }),
    ],
  },
  {
    name: 'endPort range',
    covers: 'endPort',
    policies: [
      netpol('z', 'range', {
        podSelector: {},
        ingress: [{ ports: [tcp(79, 80)] }],
      }),
    ],
  },
  {
    name: 'protocol without a port',
    covers: 'ports with a protocol only: every port of it',
    policies: [
      netpol('x', 'udp-only', { podSelector: podSel('b'), ingress: [{ ports: [{ protocol: 'UDP' }] }] }),
    ],
  },
  {
    name: 'union of two policies',
    covers: "multiple policies' union, order does not matter",
    policies: [
      netpol('y', 'p80', {
        podSelector: podSel('c'),
        ingress: [{ ports: [tcp(80)], from: [{ namespaceSelector: nsSel('x') }] }],
      }),
      netpol('y', 'p81', { podSelector: podSel('c'), ingress: [{ ports: [udp(81)] }] }),
    ],
  },
  {
    name: 'egress and ingress both needed',
    covers: 'a connection needs egress at the source and ingress at the destination',
    policies: [
      netpol('x', 'out-to-y', {
        podSelector: podSel('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: nsSel('y') }] }],
      }),
      netpol('y', 'in-from-z', {
        podSelector: podSel('b'),
        ingress: [{ from: [{ namespaceSelector: nsSel('z') }] }],
      }),
    ],
  },
  {
    name: 'ingress from every namespace',
    covers: 'an empty namespaceSelector selects every namespace',
    policies: [
      denyIngressX,
      netpol('x', 'all-ns', { podSelector: podSel('c'), ingress: [{ from: [{ namespaceSelector: {} }] }] }),
    ],
  },
  {
    name: 'empty from list',
    covers: 'from: [] matches every source',
    policies: [
      netpol('z', 'empty-from', { podSelector: podSel('a'), ingress: [{ from: [], ports: [tcp(81)] }] }),
    ],
  },
  {
    name: 'egress to namespace z on one port',
    covers: 'egress namespaceSelector with ports',
    policies: [
      netpol('y', 'to-z', {
        podSelector: {},
        egress: [{ to: [{ namespaceSelector: nsSel('z') }], ports: [tcp(80), udp(80)] }],
      }),
    ],
  },
  {
    name: 'relabel a pod into a policy',
    covers: 'relabel a pod (pod label)',
    policies: [allowFromB],
    podLabels: { 'x/c': { pod: 'b' } },
  },
  {
    name: 'relabel a namespace out of a policy',
    covers: 'relabel a namespace (namespace label)',
    policies: [
      netpol('x', 'allow-from-y', {
        podSelector: podSel('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }],
      }),
    ],
    nsLabels: { y: { ns: 'y-moved' }, z: { ns: 'y' } },
  },
  {
    name: 'delete a policy',
    covers: 'delete a policy: its allows and its isolation go',
    policies: [denyIngressX],
  },
  {
    name: 'policy on a ClusterIP endpoint',
    covers: 'policies apply after service DNAT: the endpoint y/b sees the client pod, not the ClusterIP',
    policies: [
      netpol('y', 'web-from-x', {
        podSelector: podSel('b'),
        ingress: [{ from: [{ namespaceSelector: nsSel('x') }] }],
      }),
    ],
  },
  {
    name: 'egress to the outside host only',
    covers:
      'egress ipBlock to an address outside the cluster (the lab outside host, masqueraded after the policy)',
    policies: [
      netpol('x', 'outside-only', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [tcp(80)] }],
      }),
    ],
  },
  {
    name: 'SCTP rule does not allow TCP or UDP',
    covers: 'SCTP accepted and rendered (untested on the wire: no SCTP in this kernel)',
    policies: [
      netpol('z', 'sctp', {
        podSelector: podSel('c'),
        ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }] }],
      }),
    ],
  },
];

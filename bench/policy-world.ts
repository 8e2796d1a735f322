import { parseNamespace, parseNetworkPolicy } from '../src/model/policy/parse.js';
import type { NetworkPolicy } from '../src/model/policy/types.js';
import { Ip } from '../src/net/ip.js';
import type { NodeModel } from '../src/plan/node/model.js';
import type { PolicyPod, PolicyWorld } from '../src/plan/policy/evaluate.js';
import type { PolicyNodeModel } from '../src/plan/policy/model.js';

/** The policy bench's generated world (pods, namespaces, policies) and the node model that carries its policy. */

export const CLIENT = '10.210.255.2';
export const SERVER = '10.210.255.3';

export interface Gen {
  readonly policies: number;
  readonly pods: number;
  /** Pod index -> labels override (a relabel). */
  readonly relabel?: number;
  /** A changed policy (its port moves). */
  readonly change?: number;
  /** How many of the pods are on the benched node (the rest on other nodes: no chains here). */
  readonly local?: number;
}

const NAMESPACES = 10;
const APPS = 50;

/** The generated world: `pods` addresses in 10 namespaces, `policies` policies, plus the two real pods. */
export function world(g: Gen): PolicyWorld {
  const issues: never[] = [];
  const namespaces = Array.from(
    { length: NAMESPACES },
    (_, i) =>
      parseNamespace(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${i}`, labels: { team: `t${i % 3}` } } },
        '',
        issues,
      )!,
  );
  const pods: PolicyPod[] = [];
  for (let i = 0; i < g.pods; i++)
    pods.push({
      name: `p${i}`,
      namespace: `ns${i % NAMESPACES}`,
      node: i < (g.local ?? g.pods) ? 'bench' : 'elsewhere',
      ip: Ip.fromNumber(Ip.parse('10.210.0.2').value + i),
      labels: { app: i === g.relabel ? 'relabelled' : `a${Math.floor(i / NAMESPACES) % APPS}` },
      ports: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }],
    });
  pods.push(
    {
      name: 'client',
      namespace: 'ns1',
      node: 'bench',
      ip: Ip.parse(CLIENT),
      labels: { app: 'a0', role: 'client' },
      ports: [],
    },
    {
      name: 'server',
      namespace: 'ns0',
      node: 'bench',
      ip: Ip.parse(SERVER),
      labels: { app: 'a0', role: 'server' },
      ports: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }],
    },
  );
  const policies: NetworkPolicy[] = [];
  for (let i = 0; i < g.policies; i++) {
    const ns = i % NAMESPACES;
    const port = 8000 + (i % 7) + (i === g.change ? 100 : 0);
    const spec =
      i % 4 === 3
        ? {
            // Egress: to a team's namespaces on a port range, or to an address block with an exception.
            podSelector: { matchLabels: { app: `a${i % APPS}` } },
            policyTypes: ['Egress'],
            egress: [
              {
                to: [{ namespaceSelector: { matchLabels: { team: `t${i % 3}` } } }],
                ports: [{ port, endPort: port + 10 }],
              },
              { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.210.0.0/16'] } }] },
            ],
          }
        : {
            podSelector: { matchLabels: { app: `a${i % APPS}` } },
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: { matchLabels: { team: `t${(i + 1) % 3}` } },
                    podSelector: { matchLabels: { app: `a${(i * 7) % APPS}` } },
                  },
                  {
                    podSelector: {
                      matchExpressions: [
                        { key: 'app', operator: 'In', values: [`a${(i * 3) % APPS}`, `a${(i * 5) % APPS}`] },
                      ],
                    },
                  },
                ],
                ports: [{ port }, { port: 'http' }],
              },
            ],
          };
    policies.push(
      parseNetworkPolicy(
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: `pol${i}`, namespace: `ns${ns}` },
          spec,
        },
        '',
        issues,
      )!,
    );
  }
  // The client may reach the server on 9000 (and the server's policies isolate it; so do the client's).
  policies.push(
    parseNetworkPolicy(
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'server-from-client', namespace: 'ns0' },
        spec: {
          podSelector: { matchLabels: { role: 'server' } },
          ingress: [
            {
              from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }],
              ports: [{ port: 'http' }],
            },
          ],
        },
      },
      '',
      issues,
    )!,
    parseNetworkPolicy(
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'client-to-server', namespace: 'ns1' },
        spec: {
          podSelector: { matchLabels: { role: 'client' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'server' } } }] }],
        },
      },
      '',
      issues,
    )!,
  );
  return {
    namespaces,
    pods,
    policies: g.policies ? policies : [],
    nodes: [{ name: 'bench', ips: [Ip.parse('10.210.255.1')] }],
  };
}

/** The benched node's model: only its policy part is set. */
export const nodeOf = (policy: PolicyNodeModel): NodeModel => ({
  node: 'bench',
  podCIDR: '',
  sysctls: {},
  routes: [],
  fdb: [],
  neighbours: [],
  policy,
});

/**
 * `base` with the objects that differ in world(g) replaced, as a watch delivers one change (the other objects
 * stay the same objects; generated beforehand: object decoding is not planning).
 */
export function changedWorld(base: PolicyWorld, g: Gen): PolicyWorld {
  const w = world(g);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return {
    ...base,
    pods: base.pods.map((p, i) => (same(p, w.pods[i]) ? p : w.pods[i]!)),
    policies: base.policies.map((p, i) => (same(p, w.policies[i]) ? p : w.policies[i]!)),
  };
}

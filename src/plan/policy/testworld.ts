import type { ConfigIssue } from '../../errors.js';
import { parseNamespace, parseNetworkPolicy } from '../../model/policy/parse.js';
import type { NetworkPolicy } from '../../model/policy/types.js';
import { Ip } from '../../net/ip.js';
import type { PolicyPod, PolicyWorld } from './evaluate.js';

/**
 * The cyclonus world for unit tests: namespaces x, y, z (labelled ns=<name>), pods a, b, c in each (labelled
 * pod=<name>), a on node-0, b on node-1, c on node-2; x/a..z/c get 10.200.<node>.<2+ns index>. Every pod names
 * its ports serve-80-tcp, serve-81-tcp, serve-80-udp, serve-81-udp.
 */
export function cyclonusWorld(policies: readonly Record<string, unknown>[] = []): PolicyWorld {
  const issues: ConfigIssue[] = [];
  const namespaces = ['x', 'y', 'z'].map(
    (n) =>
      parseNamespace(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n, labels: { ns: n } } },
        '',
        issues,
      )!,
  );
  const pods: PolicyPod[] = [];
  ['x', 'y', 'z'].forEach((ns, i) => {
    ['a', 'b', 'c'].forEach((name, node) => {
      pods.push({
        name,
        namespace: ns,
        node: `node-${node}`,
        ip: Ip.parse(`10.200.${node}.${2 + i}`),
        labels: { pod: name },
        ports: [80, 81].flatMap((port) =>
          (['TCP', 'UDP'] as const).map((protocol) => ({
            name: `serve-${port}-${protocol.toLowerCase()}`,
            containerPort: port,
            protocol,
          })),
        ),
      });
    });
  });
  const parsed = policies.map((p, i) => parseNetworkPolicy(p, `policy ${i}: `, issues));
  if (issues.length) throw new Error(JSON.stringify(issues, null, 2));
  return {
    namespaces,
    pods,
    policies: parsed as NetworkPolicy[],
    nodes: [0, 1, 2].map((n) => ({
      name: `node-${n}`,
      ips: [Ip.parse(`192.168.64.${4 + n}`), Ip.parse(`10.200.${n}.1`)],
    })),
  };
}

export const policy = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});

/** cyclonusWorld with a scenario's policies and label changes (the well-known namespace label stays). */
export function scenarioWorld(s: {
  policies: readonly Record<string, unknown>[];
  podLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  nsLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}): PolicyWorld {
  const w = cyclonusWorld(s.policies);
  return {
    ...w,
    namespaces: w.namespaces.map((n) =>
      s.nsLabels?.[n.name]
        ? { name: n.name, labels: { ...s.nsLabels[n.name], 'kubernetes.io/metadata.name': n.name } }
        : n,
    ),
    pods: w.pods.map((p) => {
      const l = s.podLabels?.[`${p.namespace}/${p.name}`];
      return l ? { ...p, labels: l } : p;
    }),
  };
}

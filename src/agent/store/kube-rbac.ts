/**
 * The agent's ClusterRole: exactly the calls KubeStore makes. Nodes: read all (peers) and patch its own
 * annotations and status condition; Services and EndpointSlices (both served versions' group): list and watch;
 * the network config ConfigMap: get, list, watch; Namespaces, Pods and NetworkPolicies: list and watch. The API discovery call is every authenticated user's.
 */
export const AGENT_CLUSTER_ROLE = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'podnet-agent' },
  rules: [
    { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
    { apiGroups: [''], resources: ['services'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    // NetworkPolicy enforcement (agent/policy-feeds.ts): policies, namespace labels, pod labels and addresses.
    { apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['list', 'watch'] },
    { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
  ],
} as const;

/** Binds the role to a group (the lab's agents) or a service account (a DaemonSet). */
export function agentClusterRoleBinding(subject: {
  kind: 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
}) {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'podnet-agent' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'podnet-agent' },
    subjects: [
      subject.kind === 'Group'
        ? { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: subject.name }
        : { kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace },
    ],
  };
}

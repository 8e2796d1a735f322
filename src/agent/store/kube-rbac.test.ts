import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { AGENT_SA } from '../../lab/cluster/kube-control-plane.js';
import { parseAgentConfig } from '../config.js';
import { AGENT_CLUSTER_ROLE } from './kube-rbac.js';

const MANIFEST = fileURLToPath(new URL('../../../../deploy/kubernetes/podnet.yaml', import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: YAML documents read loosely in a test
type Doc = { kind: string; metadata: { name: string; namespace?: string } } & Record<string, any>;
const docs = (): Doc[] => parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJSON() as Doc);

test('deploy manifest: its ClusterRole is exactly the one the lab runs the agents with', () => {
  const role = docs().find((d) => d.kind === 'ClusterRole')!;
  assert.equal(role.metadata.name, AGENT_CLUSTER_ROLE.metadata.name);
  assert.deepEqual(role.rules, JSON.parse(JSON.stringify(AGENT_CLUSTER_ROLE.rules)));
  const binding = docs().find((d) => d.kind === 'ClusterRoleBinding')!;
  const ds = docs().find((d) => d.kind === 'DaemonSet')!;
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [
    {
      kind: 'ServiceAccount',
      name: ds.spec.template.spec.serviceAccountName,
      namespace: ds.metadata.namespace,
    },
  ]);
  // the lab's agents authenticate as that same ServiceAccount
  assert.deepEqual(
    { namespace: ds.metadata.namespace, name: ds.spec.template.spec.serviceAccountName },
    AGENT_SA,
  );
});

test('deploy manifest: the DaemonSet runs the agent with flags it accepts, on the host network, privileged', () => {
  const ds = docs().find((d) => d.kind === 'DaemonSet')!;
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  const agent = pod.containers.find((c: { name: string }) => c.name === 'agent');
  assert.equal(agent.securityContext.privileged, true);
  // the args as the kubelet expands them ($(VAR) from env), then as the agent parses them
  const flags: Record<string, string> = {};
  for (const a of agent.args as string[]) {
    const m = /^--([a-z-]+)=(.*)$/.exec(
      a.replace('$(NODE_NAME)', 'node-1').replace('$(PODNET_IFACE)', 'eth0'),
    );
    assert.ok(m, `arg '${a}' is not --flag=value`);
    flags[m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = m[2]!;
  }
  const c = parseAgentConfig(flags);
  assert.equal(c.datastore, 'kubernetes');
  assert.equal(c.cniConfDir, '/etc/cni/net.d');
  // the ConfigMap the agent reads sits in the DaemonSet's namespace (POD_NAMESPACE) and parses
  const cm = docs().find((d) => d.kind === 'ConfigMap')!;
  assert.equal(cm.metadata.namespace, ds.metadata.namespace);
  assert.equal(cm.metadata.name, 'podnet-config');
  assert.ok(agent.env.some((e: { name: string }) => e.name === 'POD_NAMESPACE'));
});

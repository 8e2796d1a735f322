import { StateError } from '../../errors.js';
import type { Cluster } from '../../model/resolve.js';
import { worldOf } from '../../plan/policy/world.js';
import { LabNames } from '../names.js';
import { journalingRunner } from '../runners.js';
import type { LabState } from '../state.js';
import { type KubeRecord, kubectl } from './kube-control-plane.js';
import { list } from './kube-objects.js';
import { policyManifest } from './policies.js';
import { agentHealth, livePid, readCluster } from './record.js';
import { waitFor } from './up.js';

/**
 * NetworkPolicy in a lab on the Kubernetes API: the lab changes API objects as a user would (kubectl apply of
 * the Namespaces and NetworkPolicies, delete of the policies no longer in the lab, `kubectl label` of the pods),
 * and each agent, watching them, programs its own node. Then waits until every running agent synced after the
 * last write (resourceVersions are opaque: the agents' sync times tell).
 */
export async function syncKubePolicies(
  cluster: Cluster,
  state: LabState,
): Promise<{ ops: never[]; cuts: number; ms: number; appliedMs: number }> {
  const started = performance.now();
  const k = state.readJson<KubeRecord>('kube.json')!;
  const names = new LabNames(state.lab);
  const runner = journalingRunner(state, false);
  const kc = async (args: string[], stdin?: string) => {
    const r = await runner.run(kubectl(state, names, k, args, stdin));
    if (r.exitCode !== 0) throw new StateError(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const world = worldOf(cluster);
  let changed = false;
  // When the last write began: an agent's sync that ends after it saw it (a sync can end before kubectl does).
  let written = 0;
  const write = (args: string[], stdin?: string) => {
    written = Date.now();
    return kc(args, stdin);
  };
  try {
    const objects = [
      ...world.namespaces.map((n) => ({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: n.name, labels: n.labels },
      })),
      ...world.policies.map(policyManifest),
    ];
    const out = await write(['apply', '-f', '-'], JSON.stringify(list(objects)));
    changed = out.split('\n').some((l) => l.trim() && !/ unchanged$/.test(l.trim()));
    const want = new Set(world.policies.map((p) => `${p.namespace}/${p.name}`));
    const have = JSON.parse(await kc(['get', 'networkpolicies', '-A', '-o', 'json'])) as {
      items: { metadata: { namespace: string; name: string } }[];
    };
    for (const p of have.items)
      if (!want.has(`${p.metadata.namespace}/${p.metadata.name}`))
        changed = Boolean(
          await write(['delete', 'networkpolicy', '-n', p.metadata.namespace, p.metadata.name]),
        );
    const pods = JSON.parse(await kc(['get', 'pods', '-A', '-o', 'json'])) as {
      items: { metadata: { namespace: string; name: string; labels?: Record<string, string> } }[];
    };
    for (const p of pods.items) {
      const lab = cluster.pods.find((q) => q.name === p.metadata.name);
      if (!lab) continue;
      const now = p.metadata.labels ?? {};
      const args = [
        ...Object.entries(lab.labels)
          .filter(([key, v]) => now[key] !== v)
          .map(([key, v]) => `${key}=${v}`),
        ...Object.keys(now)
          .filter((key) => !(key in lab.labels))
          .map((key) => `${key}-`),
      ];
      if (args.length)
        changed = Boolean(
          await write(['label', 'pod', '-n', p.metadata.namespace, p.metadata.name, '--overwrite', ...args]),
        );
    }
  } finally {
    runner.close();
  }
  const rec = readCluster(state)!;
  const running = changed
    ? Object.keys(rec.nodes).filter((n) => livePid(state, n, 'agent') !== undefined)
    : [];
  for (const node of running)
    await waitFor(`the agent of ${node} to sync the policy change`, 20000, async () => {
      const at = agentHealth(state, node)?.lastSync?.at;
      return at !== undefined && Date.parse(at) > written;
    });
  const ms = performance.now() - started;
  return { ops: [], cuts: 0, ms, appliedMs: ms };
}

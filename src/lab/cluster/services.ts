import { storeKeys } from '../../agent/store/keys.js';
import type { Runner } from '../../exec/runner.js';
import type { Cluster } from '../../model/resolve.js';
import { allocationsOf } from '../../model/resolve.js';
import type { ServiceView } from '../../model/service.js';
import { endpointSliceOf } from '../../model/service-endpoints.js';
import type { ServiceManifest } from '../../model/service-manifest.js';
import { LabNames } from '../names.js';
import { hostRunner } from '../runners.js';
import type { LabState } from '../state.js';
import { type ClusterRecord, etcdctl, etcdDel, etcdPut, livePid, readCluster } from './record.js';
import { waitForAgents } from './up.js';

/** A ServiceView as the v1 Service the store holds, with its allocated ClusterIP (pure). */
export function serviceManifestOf(s: ServiceView): ServiceManifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace },
    spec: {
      type: s.type,
      clusterIP: s.clusterIP.toString(),
      selector: { ...s.selector },
      ports: s.ports.map((p) => ({
        name: p.name,
        protocol: p.protocol,
        port: p.port,
        targetPort: p.targetPort,
        ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
      })),
      sessionAffinity: s.sessionAffinity,
      ...(s.sessionAffinity === 'ClientIP'
        ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinityTimeoutSeconds } } }
        : {}),
      internalTrafficPolicy: s.internalTrafficPolicy,
      externalTrafficPolicy: s.externalTrafficPolicy,
    },
  };
}

/**
 * Writes every Service and its EndpointSlice (the lab plays the endpoint-slice controller: pods matched by
 * the selector) to etcd, and deletes the slices and services in `removed`. Resolves with the store revision
 * after the last write, so callers can wait for every agent to have synced it.
 */
export async function publishServices(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  cluster: Cluster,
  removed: readonly { namespace: string; name: string }[] = [],
): Promise<number> {
  const keys = storeKeys(rec.prefix);
  const pods = cluster.pods.map((p) => ({ name: p.name, node: p.node, ip: p.ip, labels: p.labels }));
  let revision = 0;
  for (const s of cluster.services) {
    revision = await etcdPut(
      runner,
      names,
      rec,
      keys.service(s.namespace, s.name),
      JSON.stringify(serviceManifestOf(s)),
    );
    const slice = endpointSliceOf(s, pods);
    revision = await etcdPut(
      runner,
      names,
      rec,
      keys.endpointSlice(s.namespace, slice.metadata.name),
      JSON.stringify(slice),
    );
  }
  for (const r of removed) {
    revision = await etcdDel(runner, names, rec, keys.endpointSlice(r.namespace, `${r.name}-podnet`));
    revision = await etcdDel(runner, names, rec, keys.service(r.namespace, r.name));
  }
  return revision;
}

export const isCluster = (state: LabState): boolean => readCluster(state) !== undefined;

/**
 * `lab service add|remove` in cluster mode: every Service and EndpointSlice written to etcd, the ones no longer
 * in the lab deleted, then a wait until every running agent has synced that revision. The lab itself programs
 * nothing (no ops).
 */
export async function syncClusterServices(
  cluster: Cluster,
  state: LabState,
): Promise<{ ops: never[]; ms: number }> {
  // A lab on the Kubernetes API: Services are API objects there (kube-change.ts).
  if (state.readJson('kube.json')) return (await import('./kube-change.js')).syncKubeServices(cluster, state);
  const started = performance.now();
  const rec = readCluster(state)!;
  const names = new LabNames(state.lab);
  const runner = hostRunner();
  const specs = storeKeys(rec.prefix).service('', '');
  const keys = (await etcdctl(runner, names, rec, ['get', '--prefix', '--keys-only', specs.slice(0, -1)]))
    .split('\n')
    .filter(Boolean)
    .map((k) => k.slice(specs.length - 1).split('/'));
  const removed = keys
    .filter(([ns, name]) => !cluster.services.some((s) => s.namespace === ns && s.name === name))
    .map(([namespace, name]) => ({ namespace: namespace!, name: name! }));
  const revision = await publishServices(runner, names, rec, cluster, removed);
  state.writeJson('allocations.json', allocationsOf(cluster));
  const running = Object.keys(rec.nodes).filter((n) => livePid(state, n, 'agent') !== undefined);
  await waitForAgents(state, running, revision);
  return { ops: [], ms: performance.now() - started };
}

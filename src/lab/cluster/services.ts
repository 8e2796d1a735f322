import { storeKeys } from '../../agent/store/keys.js';
import type { Runner } from '../../exec/runner.js';
import type { Cluster } from '../../model/resolve.js';
import { endpointSliceOf, type ServiceManifest, type ServiceView } from '../../model/service.js';
import type { LabNames } from '../names.js';
import { type ClusterRecord, etcdDel, etcdPut } from './record.js';

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

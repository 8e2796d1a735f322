import { NET_CONF } from '../../agent/store/kube-codec.js';
import { encodeNetworkConfig } from '../../agent/store/network-config.js';
import type { NetworkConfig } from '../../agent/store/store.js';
import type { PodSpec } from '../../model/cluster.js';
import { endpointSliceOf, type PodRef, type ServiceView } from '../../model/service.js';
import { serviceManifestOf } from './services.js';

/**
 * The API objects the lab writes when it plays the kubelet and the user (pure): Nodes as a kubelet registers
 * them, Pods bound to their node and their status once the CNI plugin gave them an address, Services with
 * the lab's ClusterIPs, and the network config ConfigMap.
 */

export const list = (items: readonly object[]) => ({ apiVersion: 'v1', kind: 'List', items });

export function nodeObject(name: string, ip: string) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    status: {
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
    },
  };
}

export function netConfObject(config: NetworkConfig) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: NET_CONF.name, namespace: NET_CONF.namespace },
    data: { [NET_CONF.key]: encodeNetworkConfig(config) },
  };
}

export function podObject(p: PodSpec) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: 'default', labels: { ...p.labels } },
    spec: {
      nodeName: p.node,
      automountServiceAccountToken: false,
      containers: [{ name: 'app', image: 'podnet.dev/lab-pod' }],
    },
  };
}

/** The status a kubelet reports once the pod's sandbox has its address and its containers run. */
export function podStatus(podIP: string, hostIP: string, ready: boolean, now: Date) {
  const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const cond = (type: string, status: boolean) => ({
    type,
    status: status ? 'True' : 'False',
    lastTransitionTime: t,
  });
  return {
    phase: 'Running',
    hostIP,
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: t,
    conditions: [
      cond('Initialized', true),
      cond('PodScheduled', true),
      cond('ContainersReady', ready),
      cond('Ready', ready),
    ],
  };
}

/**
 * A lab Service as an API object. v1.20 rejects externalTrafficPolicy on ClusterIP Services and does not know
 * internalTrafficPolicy (v1.21+), so each is sent only where the server takes it.
 */
/**
 * The EndpointSlice of a Service without a selector, from the lab file's EndpointSlice documents, as the API
 * takes it (no empty nodeName; a targetRef only for a lab pod): the endpointslice controller makes none for it.
 */
export function givenSliceObject(s: ServiceView, pods: readonly PodRef[]) {
  const slice = endpointSliceOf(s, pods);
  const names = new Set(pods.map((p) => p.name));
  return {
    ...slice,
    endpoints: slice.endpoints.map(({ nodeName, targetRef, ...e }) => ({
      ...e,
      ...(nodeName ? { nodeName } : {}),
      ...(names.has(targetRef.name) ? { targetRef } : {}),
    })),
  };
}

export function serviceObject(s: ServiceView) {
  const m = serviceManifestOf(s);
  const { externalTrafficPolicy, internalTrafficPolicy, ...spec } = m.spec!;
  return {
    ...m,
    spec: {
      ...spec,
      ...(s.type === 'NodePort' ? { externalTrafficPolicy } : {}),
      ...(internalTrafficPolicy === 'Local' ? { internalTrafficPolicy } : {}),
    },
  };
}

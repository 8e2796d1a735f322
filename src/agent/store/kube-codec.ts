import type { EndpointSlice, Protocol } from '../../model/service.js';
import { Cidr, Ip } from '../../net/ip.js';
import type { BackendType, LeaseAttrs, Revision, SubnetLease } from './store.js';

/**
 * The Kubernetes datastore's pure half: how podnet's store objects map to API objects. A node's subnet lease
 * is its Node (`spec.podCIDR`, set by kube-controller-manager) plus three annotations the agent writes, as
 * flannel's kube subnet manager does; EndpointSlices of either served version become the v1 shape the proxy
 * model reads; the store revision is every watched list's resourceVersion in one opaque string.
 */

export const ANNOTATION = {
  backendType: 'podnet.dev/backend-type',
  backendData: 'podnet.dev/backend-data',
  publicIP: 'podnet.dev/public-ip',
} as const;

/** The ConfigMap holding the network config (`net-conf.json`, flannel's name and shape). */
export const NET_CONF = { namespace: 'kube-system', name: 'podnet-config', key: 'net-conf.json' } as const;

/** The Node fields podnet reads. */
export interface KubeNode {
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: { readonly podCIDR?: string; readonly podCIDRs?: readonly string[] };
  readonly status?: {
    readonly addresses?: readonly { readonly type: string; readonly address: string }[];
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
  };
}

/** The node's IPv4 pod CIDR (`podCIDRs` first, then `podCIDR`), or undefined until the controller sets it. */
export function podCidrOf(node: KubeNode): string | undefined {
  const all = [...(node.spec?.podCIDRs ?? []), ...(node.spec?.podCIDR ? [node.spec.podCIDR] : [])];
  return all.find((c) => Cidr.tryParse(c) !== undefined);
}

/** The annotations that publish a node's backend data (merge-patch body for `metadata.annotations`). */
export function annotationsOf(attrs: LeaseAttrs): Record<string, string> {
  return {
    [ANNOTATION.backendType]: attrs.backendType,
    [ANNOTATION.backendData]: JSON.stringify(
      attrs.backendData.vtepMAC ? { VtepMAC: attrs.backendData.vtepMAC } : {},
    ),
    [ANNOTATION.publicIP]: attrs.publicIP,
  };
}

const BACKENDS: readonly BackendType[] = ['host-gw', 'vxlan', 'ipip'];
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * A Node as a subnet lease: undefined until it has a pod CIDR and its agent's annotations (a node whose agent
 * has not published yet is not a peer), or when an annotation is unreadable (`problem` says which).
 */
export function leaseOfNode(node: KubeNode): { lease?: SubnetLease; problem?: string } {
  const subnet = podCidrOf(node);
  const a = node.metadata.annotations ?? {};
  const type = a[ANNOTATION.backendType];
  const ip = a[ANNOTATION.publicIP];
  if (!subnet || type === undefined || ip === undefined) return {};
  const where = `Node ${node.metadata.name}`;
  if (!(BACKENDS as readonly string[]).includes(type))
    return { problem: `${where}: ${ANNOTATION.backendType} '${type}' is not one of ${BACKENDS.join(', ')}` };
  if (!Ip.tryParse(ip)) return { problem: `${where}: ${ANNOTATION.publicIP} '${ip}' is not an IPv4 address` };
  let data: { VtepMAC?: unknown } = {};
  try {
    const raw = a[ANNOTATION.backendData];
    data = raw ? (JSON.parse(raw) as { VtepMAC?: unknown }) : {};
  } catch {
    return { problem: `${where}: ${ANNOTATION.backendData} is not JSON` };
  }
  const mac = data.VtepMAC;
  if (mac !== undefined && (typeof mac !== 'string' || !MAC.test(mac)))
    return { problem: `${where}: ${ANNOTATION.backendData} VtepMAC '${String(mac)}' is not a MAC address` };
  return {
    lease: {
      subnet,
      attrs: {
        node: node.metadata.name,
        publicIP: ip,
        backendType: type as BackendType,
        backendData: mac ? { vtepMAC: mac as string } : {},
      },
      revision: node.metadata.resourceVersion ?? '0',
    },
  };
}

/** Whether the Node already carries exactly these annotations (then the agent writes nothing). */
export function hasAnnotations(node: KubeNode, attrs: LeaseAttrs): boolean {
  const a = node.metadata.annotations ?? {};
  return Object.entries(annotationsOf(attrs)).every(([k, v]) => a[k] === v);
}

/** The strategic-merge patch of `status.conditions` that says the node's routes are programmed (flannel's). */
export function networkAvailablePatch(now: Date): object {
  const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    status: {
      conditions: [
        {
          type: 'NetworkUnavailable',
          status: 'False',
          reason: 'PodnetIsUp',
          message: "podnet agent programmed this node's routes",
          lastTransitionTime: t,
          lastHeartbeatTime: t,
        },
      ],
    },
  };
}

/** Whether `NetworkUnavailable` is already False on the Node. */
export function networkAvailable(node: KubeNode): boolean {
  return (
    node.status?.conditions?.some((c) => c.type === 'NetworkUnavailable' && c.status === 'False') ?? false
  );
}

/** An EndpointSlice as the API serves it, v1 or v1beta1 (the fields podnet reads). */
export interface ServedSlice {
  readonly apiVersion?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly addressType?: string;
  readonly endpoints?:
    | readonly {
        readonly addresses?: readonly string[];
        readonly conditions?: {
          readonly ready?: boolean;
          readonly serving?: boolean;
          readonly terminating?: boolean;
        };
        readonly nodeName?: string;
        /** v1beta1 (v1.20 and before): the node is `topology["kubernetes.io/hostname"]`. */
        readonly topology?: Readonly<Record<string, string>>;
        readonly targetRef?: { readonly kind?: string; readonly name?: string };
      }[]
    | null;
  readonly ports?:
    | readonly { readonly name?: string; readonly protocol?: string; readonly port?: number }[]
    | null;
}

/** The conditions kube-proxy reads; absent `ready` and `serving` mean true, absent `terminating` false. */
export interface EndpointConditions {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/**
 * A served slice (v1 or v1beta1) in the v1 shape the proxy model reads (pure). Non-IPv4 slices and endpoints
 * without an address are dropped (undefined for the whole slice when it is not IPv4). Conditions follow the
 * API's defaults: `ready` and `serving` unset mean true, `terminating` unset means false.
 */
export function sliceOfServed(s: ServedSlice): EndpointSlice | undefined {
  if (s.addressType !== undefined && s.addressType !== 'IPv4') return undefined;
  const endpoints = [];
  for (const e of s.endpoints ?? []) {
    const ip = e.addresses?.[0];
    if (!ip) continue;
    const ready = e.conditions?.ready ?? true;
    const conditions: EndpointConditions = {
      ready,
      serving: e.conditions?.serving ?? ready,
      terminating: e.conditions?.terminating ?? false,
    };
    endpoints.push({
      addresses: [ip] as [string],
      conditions,
      nodeName: e.nodeName ?? e.topology?.['kubernetes.io/hostname'] ?? '',
      targetRef: { kind: 'Pod' as const, name: e.targetRef?.name ?? ip },
    });
  }
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: s.metadata.name,
      namespace: s.metadata.namespace ?? 'default',
      labels: { ...(s.metadata.labels ?? {}) },
    },
    addressType: 'IPv4',
    endpoints,
    ports: (s.ports ?? [])
      .filter((p) => p.port !== undefined)
      .map((p) => ({ name: p.name ?? '', protocol: (p.protocol ?? 'TCP') as Protocol, port: p.port! })),
  };
}

/** `GET /apis/discovery.k8s.io` as served. */
export interface ApiGroup {
  readonly versions?: readonly { readonly version: string }[];
}

/**
 * Which EndpointSlice version to use: v1 when served (v1.21+; the only one from v1.25), else v1beta1
 * (v1.17-v1.20); undefined when the server has neither (too old for EndpointSlices).
 */
export function endpointSliceVersion(group: ApiGroup | undefined): 'v1' | 'v1beta1' | undefined {
  const served = new Set((group?.versions ?? []).map((v) => v.version));
  return served.has('v1') ? 'v1' : served.has('v1beta1') ? 'v1beta1' : undefined;
}

/** The lists a KubeStore watches, each at its own resourceVersion. */
export const WATCHED = ['config', 'nodes', 'services', 'slices'] as const;
export type Watched = (typeof WATCHED)[number];
export type Revisions = Readonly<Record<Watched, string>>;

/**
 * The store revision: `<highest>/<config>,<nodes>,<services>,<slices>`. Only the KubeStore reads the parts;
 * the leading number lets a lab compare revisions (the API server's resourceVersions are etcd revisions, which
 * a client may not rely on: only the lab, which runs that server, does).
 */
export function encodeRevision(r: Revisions): Revision {
  const max = WATCHED.map((k) => Number(r[k]) || 0).reduce((a, b) => Math.max(a, b), 0);
  return `${max}/${WATCHED.map((k) => r[k]).join(',')}`;
}

export function decodeRevision(rev: Revision): Revisions | undefined {
  const m = /^\d+\/([^,/]*),([^,/]*),([^,/]*),([^,/]*)$/.exec(rev);
  if (!m) return undefined;
  return { config: m[1]!, nodes: m[2]!, services: m[3]!, slices: m[4]! };
}

/** The leading number of an encoded revision (0 when it has none). */
export const revisionNumber = (rev: Revision): number => Number(/^(\d+)/.exec(rev)?.[1] ?? 0);

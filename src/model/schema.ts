import * as z from './mini-schema.js';
import { k8sMetadata, k8sObject, once, unsupported } from './strict.js';

/**
 * The on-disk shape of podnet's cluster file (YAML or JSON), before semantic checks. Strict: unknown fields are
 * errors, so typos never pass silently. Kubernetes objects (`kind: Pod`) are strict too, with an explicit
 * list of the fields real manifests carry that podnet accepts and ignores (see strict.ts, docs/spec.md).
 * Each kind's schema is built on first use (`once`): a command pays only for the kinds its file holds.
 */

const dnsLabel = once(() =>
  z
    .string()
    .check(
      z.maxLength(63, 'must be at most 63 characters'),
      z.regex(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
        'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
      ),
    ),
);

/** An integer from `min` to `max` (zod's own messages). */
const intIn = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

const containerSchema = () =>
  z.strictObject({
    name: dnsLabel(),
    command: z.array(z.string()).check(z.minLength(1, 'needs at least one element')),
    rootfs: z._default(z.enum(['host', 'busybox']), 'host'),
  });

const podSchema = () =>
  z.strictObject({
    name: dnsLabel(),
    node: dnsLabel(),
    ip: z.optional(z.string()),
    labels: z._default(z.record(z.string(), z.string()), {}),
    containers: z._default(z.array(containerSchema()), []),
  });

const nodeSchema = () =>
  z.strictObject({
    name: dnsLabel(),
    ip: z.string(),
    podCIDR: z.optional(z.string()),
    /** The L2 segment (broadcast domain) the node's uplink is on; host-gw needs every node on one. */
    segment: z.optional(dnsLabel()),
  });

const vxlanSchema = () =>
  z.strictObject({
    vni: z._default(intIn(1, 16777215), 1),
    port: z._default(intIn(1, 65535), 4789),
    learning: z._default(z.enum(['unicast', 'multicast']), 'unicast'),
    group: z._default(z.string(), '239.1.1.1'),
  });

export const clusterSpecSchema = once(() =>
  z.strictObject({
    clusterCIDR: z._default(z.string(), '10.200.0.0/16'),
    serviceCIDR: z._default(z.string(), '10.96.0.0/12'),
    nodeCIDRMaskSize: z._default(intIn(8, 30), 24),
    underlay: z._default(
      z.strictObject({
        subnet: z._default(z.string(), '192.168.64.0/24'),
        mtu: z._default(intIn(576, 9000), 1500),
      }),
      { subnet: '192.168.64.0/24', mtu: 1500 },
    ),
    sameNode: z._default(z.enum(['bridge', 'veth']), 'bridge'),
    crossNode: z._default(z.enum(['none', 'host-gw', 'vxlan', 'ipip']), 'none'),
    vxlan: z._default(vxlanSchema(), { vni: 1, port: 4789, learning: 'unicast', group: '239.1.1.1' }),
    bridge: z._default(z.string(), 'cni0'),
    nodes: z.array(nodeSchema()).check(z.minLength(1, 'needs at least one node')),
    pods: z._default(z.array(podSchema()), []),
    /** Kubernetes Service manifests (apiVersion/kind optional here); checked by model/service-manifest.ts. */
    services: z._default(z.array(z.unknown()), []),
    proxy: z._default(z.enum(['nftables', 'iptables', 'none']), 'nftables'),
    egressMasquerade: z._default(z.boolean(), true),
    outside: z._default(z.boolean(), false),
  }),
);

export const clusterDocSchema = once(() =>
  z.strictObject({
    apiVersion: z.literal('podnet.dev/v1alpha1'),
    kind: z.literal('Cluster'),
    metadata: z._default(z.strictObject({ name: dnsLabel() }), { name: 'podnet' }),
    spec: clusterSpecSchema(),
  }),
);

/** Container fields of a Pod that podnet accepts and ignores (it runs commands, not images). */
export const IGNORED_CONTAINER_FIELDS = [
  'image',
  'imagePullPolicy',
  'resources',
  'resizePolicy',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'volumeMounts',
  'volumeDevices',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'restartPolicy',
  'stdin',
  'stdinOnce',
  'tty',
] as const;

/** Pod spec fields podnet accepts and ignores: scheduling, storage, identity, lifecycle. */
export const IGNORED_POD_SPEC_FIELDS = [
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'dnsPolicy',
  'dnsConfig',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'securityContext',
  'schedulerName',
  'schedulingGates',
  'tolerations',
  'affinity',
  'nodeSelector',
  'priority',
  'priorityClassName',
  'preemptionPolicy',
  'enableServiceLinks',
  'volumes',
  'imagePullSecrets',
  'hostname',
  'subdomain',
  'setHostnameAsFQDN',
  'topologySpreadConstraints',
  'runtimeClassName',
  'overhead',
  'readinessGates',
  'resourceClaims',
  'resources',
  'hostAliases',
  'os',
  'shareProcessNamespace',
] as const;

const k8sContainer = () =>
  k8sObject(
    {
      name: dnsLabel(),
      command: z.optional(z.array(z.string())),
      args: z.optional(z.array(z.string())),
      env: unsupported('podnet runs the command with the environment of `podnet lab up`'),
      envFrom: unsupported('podnet runs the command with the environment of `podnet lab up`'),
      workingDir: unsupported('podnet runs the command in the root of the container'),
      /** Read for NetworkPolicy's named ports. */
      ports: z.optional(
        z.array(
          k8sObject(
            {
              name: z.optional(
                z
                  .string()
                  .check(
                    z.regex(/^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*$/, 'must be an IANA service name'),
                    z.maxLength(15, 'must be at most 15 characters'),
                  ),
              ),
              containerPort: intIn(1, 65535),
              protocol: z._default(z.enum(['TCP', 'UDP', 'SCTP']), 'TCP'),
            },
            ['hostPort', 'hostIP'],
          ),
        ),
      ),
    },
    IGNORED_CONTAINER_FIELDS,
  );

/**
 * A plain Kubernetes Pod, read strictly: podnet uses name, labels, the `podnet.dev/ip` annotation,
 * spec.nodeName and the containers' command/args; the fields listed above are accepted and ignored, and any
 * other field is an error (as `kubectl apply --validate=strict`).
 */
export const k8sPodSchema = once(() =>
  k8sObject(
    {
      apiVersion: z.literal('v1'),
      kind: z.literal('Pod'),
      metadata: k8sMetadata({
        name: dnsLabel(),
        namespace: z.optional(dnsLabel()),
        labels: z.optional(z.record(z.string(), z.string())),
        annotations: z.optional(z.record(z.string(), z.string())),
      }),
      spec: k8sObject(
        {
          nodeName: dnsLabel(),
          containers: z.array(k8sContainer()).check(z.minLength(1, 'needs at least one container')),
          initContainers: unsupported('podnet starts only the containers'),
          hostNetwork: unsupported('every podnet pod has its own network namespace', false),
          hostPID: unsupported('every podnet pod has its own PID namespace', false),
          hostIPC: unsupported('every podnet pod has its own IPC namespace', false),
        },
        IGNORED_POD_SPEC_FIELDS,
      ),
    },
    ['status'],
  ),
);

export type ClusterSpecInput = z.output<ReturnType<typeof clusterSpecSchema>>;
export type PodInput = z.output<ReturnType<typeof podSchema>>;

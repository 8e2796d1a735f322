import { z } from 'zod';
import { k8sMetadata, k8sObject, unsupported } from './strict.js';

/**
 * The on-disk shape of podnet's cluster file (YAML or JSON), before semantic checks. Strict: unknown fields are
 * errors, so typos never pass silently. Kubernetes objects (`kind: Pod`) are strict too, with an explicit
 * list of the fields real manifests carry that podnet accepts and ignores (see strict.ts, docs/spec.md).
 */

const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
  );

export const containerSchema = z.strictObject({
  name: dnsLabel,
  command: z.array(z.string()).min(1, 'needs at least one element'),
  rootfs: z.enum(['host', 'busybox']).default('host'),
});

export const podSchema = z.strictObject({
  name: dnsLabel,
  node: dnsLabel,
  ip: z.string().optional(),
  labels: z.record(z.string(), z.string()).default({}),
  containers: z.array(containerSchema).default([]),
});

export const nodeSchema = z.strictObject({
  name: dnsLabel,
  ip: z.string(),
  podCIDR: z.string().optional(),
  /** The L2 segment (broadcast domain) the node's uplink is on; host-gw needs every node on one. */
  segment: dnsLabel.optional(),
});

export const vxlanSchema = z.strictObject({
  vni: z.number().int().min(1).max(16777215).default(1),
  port: z.number().int().min(1).max(65535).default(4789),
  learning: z.enum(['unicast', 'multicast']).default('unicast'),
  group: z.string().default('239.1.1.1'),
});

export const clusterSpecSchema = z.strictObject({
  clusterCIDR: z.string().default('10.200.0.0/16'),
  serviceCIDR: z.string().default('10.96.0.0/12'),
  nodeCIDRMaskSize: z.number().int().min(8).max(30).default(24),
  underlay: z
    .strictObject({
      subnet: z.string().default('192.168.64.0/24'),
      mtu: z.number().int().min(576).max(9000).default(1500),
    })
    .default({ subnet: '192.168.64.0/24', mtu: 1500 }),
  sameNode: z.enum(['bridge', 'veth']).default('bridge'),
  crossNode: z.enum(['none', 'host-gw', 'vxlan', 'ipip']).default('none'),
  vxlan: vxlanSchema.default({ vni: 1, port: 4789, learning: 'unicast', group: '239.1.1.1' }),
  bridge: z.string().default('cni0'),
  nodes: z.array(nodeSchema).min(1, 'needs at least one node'),
  pods: z.array(podSchema).default([]),
  /** Kubernetes Service manifests (apiVersion/kind optional here); checked by model/service-manifest.ts. */
  services: z.array(z.unknown()).default([]),
  proxy: z.enum(['nftables', 'iptables', 'none']).default('nftables'),
  egressMasquerade: z.boolean().default(true),
  outside: z.boolean().default(false),
});

export const clusterDocSchema = z.strictObject({
  apiVersion: z.literal('podnet.dev/v1alpha1'),
  kind: z.literal('Cluster'),
  metadata: z.strictObject({ name: dnsLabel }).default({ name: 'podnet' }),
  spec: clusterSpecSchema,
});

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

const k8sContainer = k8sObject(
  {
    name: dnsLabel,
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: unsupported('podnet runs the command with the environment of `podnet lab up`'),
    envFrom: unsupported('podnet runs the command with the environment of `podnet lab up`'),
    workingDir: unsupported('podnet runs the command in the root of the container'),
    /** Read for NetworkPolicy's named ports. */
    ports: z
      .array(
        k8sObject(
          {
            name: z
              .string()
              .regex(/^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*$/, 'must be an IANA service name')
              .max(15, 'must be at most 15 characters')
              .optional(),
            containerPort: z.number().int().min(1).max(65535),
            protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
          },
          ['hostPort', 'hostIP'],
        ),
      )
      .optional(),
  },
  IGNORED_CONTAINER_FIELDS,
);

/**
 * A plain Kubernetes Pod, read strictly: podnet uses name, labels, the `podnet.dev/ip` annotation,
 * spec.nodeName and the containers' command/args; the fields listed above are accepted and ignored, and any
 * other field is an error (as `kubectl apply --validate=strict`).
 */
export const k8sPodSchema = k8sObject(
  {
    apiVersion: z.literal('v1'),
    kind: z.literal('Pod'),
    metadata: k8sMetadata({
      name: dnsLabel,
      namespace: dnsLabel.optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    }),
    spec: k8sObject(
      {
        nodeName: dnsLabel,
        containers: z.array(k8sContainer).min(1, 'needs at least one container'),
        initContainers: unsupported('podnet starts only the containers'),
        hostNetwork: unsupported('every podnet pod has its own network namespace', false),
        hostPID: unsupported('every podnet pod has its own PID namespace', false),
        hostIPC: unsupported('every podnet pod has its own IPC namespace', false),
      },
      IGNORED_POD_SPEC_FIELDS,
    ),
  },
  ['status'],
);

export type ClusterSpecInput = z.output<typeof clusterSpecSchema>;
export type PodInput = z.output<typeof podSchema>;

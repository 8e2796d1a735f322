import { z } from 'zod';

/**
 * The on-disk shape of podnet's cluster file (YAML or JSON), before semantic checks. Strict: unknown fields are
 * errors, so typos never pass silently. Kubernetes objects (`kind: Pod`) are read leniently: real manifests
 * carry many fields podnet has no use for.
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
  /** Kubernetes Service manifests (apiVersion/kind optional here); checked by model/service.ts. */
  services: z.array(z.unknown()).default([]),
  proxy: z.enum(['nftables', 'iptables']).default('nftables'),
  egressMasquerade: z.boolean().default(true),
  outside: z.boolean().default(false),
});

export const clusterDocSchema = z.strictObject({
  apiVersion: z.literal('podnet.dev/v1alpha1'),
  kind: z.literal('Cluster'),
  metadata: z.strictObject({ name: dnsLabel }).default({ name: 'podnet' }),
  spec: clusterSpecSchema,
});

const k8sContainer = z.looseObject({
  name: dnsLabel,
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
});

/** A plain Kubernetes Pod: podnet reads name, labels, spec.nodeName and the containers' command/args. */
export const k8sPodSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: z.looseObject({
    name: dnsLabel,
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.looseObject({
    nodeName: dnsLabel,
    containers: z.array(k8sContainer).min(1),
  }),
});

export type ClusterSpecInput = z.output<typeof clusterSpecSchema>;
export type PodInput = z.output<typeof podSchema>;

import type { ConfigIssue } from '../errors.js';
import { type Cidr, Ip } from '../net/ip.js';
import * as z from './mini-schema.js';
import { type ServicePortSpec, type ServiceSpec, serviceKey } from './service.js';
import { builtIn, type DocWhere, k8sMetadata, k8sObject, once, strictParse, unsupported } from './strict.js';

/** Services read from plain Kubernetes `kind: Service` manifests: schema, field checks, cross-service checks. */

const dnsLabel = () =>
  z
    .string()
    .check(
      z.maxLength(63, 'must be at most 63 characters'),
      z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, "-")'),
    );

const portNumber = () =>
  z.number().check(z.int(), z.gte(1, 'must be 1-65535'), z.lte(65535, 'must be 1-65535'));

/** Service spec fields podnet accepts and ignores (dual-stack bookkeeping, load-balancer settings). */
export const IGNORED_SERVICE_SPEC_FIELDS = [
  'clusterIPs',
  'ipFamilies',
  'ipFamilyPolicy',
  'publishNotReadyAddresses',
  'allocateLoadBalancerNodePorts',
  'trafficDistribution',
] as const;

/**
 * A plain Kubernetes Service manifest, read strictly: the fields podnet acts on are checked, the ones above are
 * accepted and ignored (with `status` and server-set metadata), any other field is an error.
 */
export const k8sServiceSchema = once(() =>
  k8sObject(
    {
      apiVersion: z.optional(z.literal('v1')),
      kind: z.optional(z.literal('Service')),
      metadata: k8sMetadata({
        name: dnsLabel(),
        namespace: z.optional(dnsLabel()),
        labels: z.optional(z.record(z.string(), z.string())),
      }),
      spec: k8sObject(
        {
          type: z._default(z.enum(['ClusterIP', 'NodePort']), 'ClusterIP'),
          clusterIP: z.optional(z.string()),
          selector: z._default(z.record(z.string(), z.string()), {}),
          ports: z
            .array(
              k8sObject(
                {
                  name: z.optional(z.string()),
                  protocol: z._default(z.enum(['TCP', 'UDP']), 'TCP'),
                  port: portNumber(),
                  targetPort: z.optional(z.union([portNumber(), z.string()])),
                  nodePort: z.optional(
                    z
                      .number()
                      .check(
                        z.int(),
                        z.gte(30000, 'must be 30000-32767'),
                        z.lte(32767, 'must be 30000-32767'),
                      ),
                  ),
                },
                ['appProtocol'],
              ),
            )
            .check(z.minLength(1, 'needs at least one port')),
          sessionAffinity: z._default(z.enum(['None', 'ClientIP']), 'None'),
          sessionAffinityConfig: z.optional(
            z.strictObject({
              clientIP: z.optional(
                z.strictObject({
                  timeoutSeconds: z.optional(z.number().check(z.int(), z.gte(1), z.lte(86400))),
                }),
              ),
            }),
          ),
          internalTrafficPolicy: z._default(z.enum(['Cluster', 'Local']), 'Cluster'),
          externalTrafficPolicy: z._default(z.enum(['Cluster', 'Local']), 'Cluster'),
          externalIPs: unsupported('podnet routes ClusterIPs and NodePorts only'),
          loadBalancerIP: unsupported('type LoadBalancer is not supported'),
        },
        IGNORED_SERVICE_SPEC_FIELDS,
      ),
    },
    ['status'],
  ),
);

export type ServiceManifest = z.input<ReturnType<typeof k8sServiceSchema>>;

/**
 * Turns one Service manifest into a ServiceSpec, or records every problem (with `at` + path) in `issues`.
 * Returns undefined when the manifest is unusable.
 */
export function parseServiceManifest(
  doc: unknown,
  where: DocWhere | string,
  issues: ConfigIssue[],
): ServiceSpec | undefined {
  const w = typeof where === 'string' ? { at: where } : where;
  const at = w.at;
  const r = strictParse(k8sServiceSchema, doc, w);
  if (!r.ok) {
    issues.push(...r.issues);
    return undefined;
  }
  const m = r.data;
  const before = issues.length;
  let clusterIP: Ip | undefined;
  if (m.spec.clusterIP !== undefined && m.spec.clusterIP !== '') {
    clusterIP = Ip.tryParse(m.spec.clusterIP);
    if (!clusterIP)
      issues.push({
        path: `${at}spec.clusterIP`,
        message: `'${m.spec.clusterIP}' is not a valid IPv4 address`,
        hint: 'omit it to have one allocated from the service CIDR (headless services are not supported)',
      });
  }
  const names = new Set<string>();
  const ports: ServicePortSpec[] = [];
  m.spec.ports.forEach((p, i) => {
    const path = `${at}spec.ports[${i}]`;
    if (m.spec.ports.length > 1 && !p.name)
      issues.push({
        path: `${path}.name`,
        message: 'is missing',
        hint: 'a Service with several ports names each',
      });
    const name = p.name ?? '';
    if (names.has(name)) issues.push({ path: `${path}.name`, message: `'${name}' is used by another port` });
    names.add(name);
    if (typeof p.targetPort === 'string')
      issues.push({
        path: `${path}.targetPort`,
        message: `'${p.targetPort}' is a named port`,
        hint: 'podnet pods declare no container ports: give the number',
      });
    if (m.spec.type === 'ClusterIP' && p.nodePort !== undefined)
      issues.push({
        path: `${path}.nodePort`,
        message: `${p.nodePort} is set but spec.type is 'ClusterIP'`,
        hint: 'use type: NodePort',
      });
    if (m.spec.type === 'NodePort' && p.nodePort === undefined)
      issues.push({
        path: `${path}.nodePort`,
        message: 'is missing',
        hint: 'podnet does not allocate node ports: pick one of 30000-32767',
      });
    ports.push({
      name,
      protocol: p.protocol,
      port: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port,
      ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
    });
  });
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const k = `${p.protocol}/${p.port}`;
    if (seen.has(k))
      issues.push({ path: `${at}spec.ports[${i}].port`, message: `${p.port}/${p.protocol} is listed twice` });
    seen.add(k);
  });
  if (issues.length > before) return undefined;
  return {
    name: m.metadata.name,
    namespace: m.metadata.namespace ?? 'default',
    ...(clusterIP ? { clusterIP } : {}),
    type: m.spec.type,
    selector: m.spec.selector,
    ports,
    sessionAffinity: m.spec.sessionAffinity,
    affinityTimeoutSeconds: m.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800,
    internalTrafficPolicy: m.spec.internalTrafficPolicy,
    externalTrafficPolicy: m.spec.externalTrafficPolicy,
  };
}

/** Cross-service checks: unique names, pinned ClusterIPs inside the service CIDR and unique, unique node ports. */
export function checkServices(
  services: readonly { svc: ServiceSpec; at: string }[],
  serviceCIDR: Cidr,
  issues: ConfigIssue[],
): void {
  const keys = new Map<string, string>();
  const ips = new Map<number, string>();
  const nodePorts = new Map<string, string>();
  for (const { svc, at } of services) {
    const key = serviceKey(svc);
    if (keys.has(key))
      issues.push({ path: `${at}metadata.name`, message: `service '${key}' is defined twice` });
    keys.set(key, at);
    if (svc.clusterIP) {
      if (
        !serviceCIDR.contains(svc.clusterIP) ||
        svc.clusterIP.equals(serviceCIDR.network) ||
        svc.clusterIP.equals(serviceCIDR.broadcast)
      )
        issues.push({
          path: `${at}spec.clusterIP`,
          message: `'${svc.clusterIP}' is not a usable address of the service CIDR '${serviceCIDR}'`,
        });
      const other = ips.get(svc.clusterIP.value);
      if (other)
        issues.push({
          path: `${at}spec.clusterIP`,
          message: `'${svc.clusterIP}' is already the ClusterIP of '${other}'`,
        });
      ips.set(svc.clusterIP.value, key);
    }
    svc.ports.forEach((p, i) => {
      if (p.nodePort === undefined) return;
      const k = `${p.protocol}/${p.nodePort}`;
      const other = nodePorts.get(k);
      if (other)
        issues.push({
          path: `${at}spec.ports[${i}].nodePort`,
          message: `${p.nodePort}/${p.protocol} is already used by '${other}'`,
        });
      nodePorts.set(k, key);
    });
  }
}

/** The seed's service (§5): 10.96.0.2:8080 over the pods labelled app=web (a0 and b). */
export function seedServiceManifest(): ServiceManifest {
  // Every default written out: the manifest is built-in (valid as it is, see builtIn).
  return builtIn({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.2',
      selector: { app: 'web' },
      ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080 }],
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      externalTrafficPolicy: 'Cluster',
    },
  });
}

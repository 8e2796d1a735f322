import type { ConfigIssue } from '../errors.js';
import { type Cidr, Ip } from '../net/ip.js';
import type { SourceDoc } from './documents.js';
import * as z from './mini-schema.js';
import type { GivenEndpoint, ServiceSpec } from './service.js';
import { formatPath, k8sMetadata, k8sObject, once, strictParse, suggest } from './strict.js';

/**
 * `kind: EndpointSlice` (discovery.k8s.io/v1) in a lab file: the endpoints of a Service *without a selector*,
 * as in Kubernetes, where such a Service gets no endpoints of its own and whoever runs the backends writes
 * EndpointSlices labelled `kubernetes.io/service-name: <service>`. Read strictly like every kind (docs/spec.md,
 * "EndpointSlice"); the slices' endpoints become the Service's (ServiceSpec.endpoints). Pure.
 */

const SERVICE_NAME = 'kubernetes.io/service-name';

/** A DNS subdomain (RFC 1123), what Kubernetes requires of object and node names. */
const subdomain = () =>
  z
    .string()
    .check(
      z.maxLength(253, 'must be at most 253 characters'),
      z.regex(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
        'must be a DNS subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
      ),
    );

export const endpointSliceSchema = once(() =>
  k8sObject(
    {
      apiVersion: z.literal('discovery.k8s.io/v1'),
      kind: z.literal('EndpointSlice'),
      metadata: k8sMetadata({
        name: subdomain(),
        namespace: z.optional(subdomain()),
        labels: z.optional(z.record(z.string(), z.string())),
      }),
      addressType: z.enum(['IPv4']),
      endpoints: z._default(
        z.array(
          k8sObject(
            {
              addresses: z
                .array(z.string())
                .check(z.minLength(1, 'needs at least one address'), z.maxLength(100, 'holds at most 100')),
              conditions: z.optional(
                k8sObject({ ready: z.optional(z.boolean()) }, ['serving', 'terminating']),
              ),
              nodeName: z.optional(subdomain()),
              targetRef: z.optional(
                k8sObject(
                  {
                    kind: z.optional(z.string()),
                    name: z.optional(z.string()),
                    namespace: z.optional(z.string()),
                  },
                  ['uid', 'apiVersion', 'resourceVersion', 'fieldPath'],
                ),
              ),
            },
            ['hostname', 'zone', 'hints', 'deprecatedTopology'],
          ),
        ),
        [],
      ),
      ports: z._default(
        z.array(
          k8sObject(
            {
              name: z._default(z.string(), ''),
              protocol: z._default(z.enum(['TCP', 'UDP']), 'TCP'),
              port: z.number().check(z.int(), z.gte(1, 'must be 1-65535'), z.lte(65535, 'must be 1-65535')),
            },
            ['appProtocol'],
          ),
        ),
        [],
      ),
    },
    [],
  ),
);

type SliceInput = z.output<ReturnType<typeof endpointSliceSchema>>;

export interface ReadSlice {
  readonly slice: SliceInput;
  readonly at: string;
}

/** Addresses no endpoint may have (Kubernetes refuses loopback, link-local and multicast ones too). */
function addressProblem(ip: Ip, serviceCIDR: Cidr | undefined): string | undefined {
  const [a, b] = ip.toString().split('.').map(Number) as [number, number];
  if (a === 0 || a === 127) return 'is a loopback or unspecified address';
  if (a === 169 && b === 254) return 'is a link-local address';
  if (a >= 224) return 'is a multicast or reserved address';
  if (serviceCIDR?.contains(ip))
    return `is inside the service CIDR '${serviceCIDR}' (a ClusterIP, not an endpoint)`;
  return undefined;
}

/** Every EndpointSlice document, read strictly (problems, and names used twice, go to `issues`). */
export function readEndpointSlices(docs: readonly SourceDoc[], issues: ConfigIssue[]): ReadSlice[] {
  const read: ReadSlice[] = [];
  const seen = new Map<string, string>();
  for (const d of docs) {
    if (d.doc.kind !== 'EndpointSlice') continue;
    const r = strictParse(endpointSliceSchema, d.doc, d);
    if (!r.ok) {
      issues.push(...r.issues);
      continue;
    }
    const key = `${r.data.metadata.namespace ?? 'default'}/${r.data.metadata.name}`;
    const first = seen.get(key);
    if (first)
      issues.push({ path: `${d.at}metadata.name`, message: `'${key}' is already defined by ${first}` });
    else seen.set(key, d.at.replace(/: $/, ''));
    read.push({ slice: r.data, at: d.at });
  }
  return read;
}

/**
 * Gives each selector-less Service the endpoints of its slices (returned as new ServiceSpecs, in the order
 * given). Problems go to `issues` with the path as written.
 */
export function attachEndpointSlices(
  read: readonly ReadSlice[],
  services: readonly { svc: ServiceSpec; at: string }[],
  nodes: ReadonlySet<string>,
  serviceCIDR: Cidr | undefined,
  issues: ConfigIssue[],
): { svc: ServiceSpec; at: string }[] {
  if (read.length === 0) return [...services];
  const byKey = new Map(services.map((s) => [`${s.svc.namespace}/${s.svc.name}`, s]));
  const given = new Map<string, { endpoints: GivenEndpoint[]; ports: Map<string, number> }>();
  for (const { slice, at } of read) {
    const ns = slice.metadata.namespace ?? 'default';
    const labelPath = `${at}${formatPath(['metadata', 'labels', SERVICE_NAME])}`;
    const name = slice.metadata.labels?.[SERVICE_NAME];
    if (name === undefined) {
      issues.push({
        path: `${at}metadata.labels`,
        message: `has no '${SERVICE_NAME}' label`,
        hint: 'the label names the Service (in the same namespace) whose endpoints the slice lists',
        atKey: true,
      });
      continue;
    }
    const target = byKey.get(`${ns}/${name}`);
    if (!target) {
      const names = services.filter((s) => s.svc.namespace === ns).map((s) => s.svc.name);
      const near = suggest(name, names);
      issues.push({
        path: labelPath,
        message: `'${name}' names no Service of namespace '${ns}' in this file${near ? `; did you mean '${near}'?` : ''}`,
        hint: names.length ? `Services there: ${names.join(', ')}` : 'add the Service (without a selector)',
      });
      continue;
    }
    const svc = target.svc;
    if (Object.keys(svc.selector).length > 0) {
      issues.push({
        path: labelPath,
        message: `Service ${ns}/${name} has a selector: its endpoints are the pods it selects`,
        hint: `EndpointSlices give the endpoints of a Service without a selector; remove spec.selector from ${target.at.replace(/: $/, '')}`,
      });
      continue;
    }
    const g = given.get(`${ns}/${name}`) ?? { endpoints: [], ports: new Map<string, number>() };
    given.set(`${ns}/${name}`, g);
    const before = issues.length;
    // Each slice lists the Service's ports, by name and protocol, as kube-proxy matches them.
    const want = svc.ports.map((p) => `${p.name}/${p.protocol}`);
    slice.ports.forEach((p, i) => {
      const id = `${p.name}/${p.protocol}`;
      const path = `${at}ports[${i}]`;
      if (!want.includes(id)) {
        const near = suggest(
          p.name,
          svc.ports.map((x) => x.name),
        );
        issues.push({
          path: `${path}.name`,
          message: `'${p.name}' (${p.protocol}) is no port of Service ${ns}/${name}${near && near !== p.name ? `; did you mean '${near}'?` : ''}`,
          hint: `its ports: ${svc.ports.map((x) => `${x.name || "''"} (${x.protocol})`).join(', ')}`,
        });
        return;
      }
      const other = g.ports.get(id);
      if (other !== undefined && other !== p.port)
        issues.push({
          path: `${path}.port`,
          message: `${p.port} differs from ${other}, the number another slice of Service ${ns}/${name} gives port '${p.name}'`,
          hint: 'podnet keeps one endpoint port per Service port',
        });
      g.ports.set(id, p.port);
    });
    for (const p of svc.ports)
      if (!slice.ports.some((x) => x.name === p.name && x.protocol === p.protocol))
        issues.push({
          path: `${at}ports`,
          message: `lists no port '${p.name}' (${p.protocol}) of Service ${ns}/${name}`,
          hint: "each slice lists every port of its Service, by name and protocol, with the endpoints' port number",
        });
    slice.endpoints.forEach((e, i) => {
      const path = `${at}endpoints[${i}]`;
      e.addresses.forEach((a, j) => {
        const ip = Ip.tryParse(a);
        const problem = ip ? addressProblem(ip, serviceCIDR) : 'is not a valid IPv4 address';
        if (problem) issues.push({ path: `${path}.addresses[${j}]`, message: `'${a}' ${problem}` });
      });
      if (e.nodeName !== undefined && !nodes.has(e.nodeName))
        issues.push({
          path: `${path}.nodeName`,
          message: `'${e.nodeName}' is not a node of this cluster`,
          hint: `nodes: ${[...nodes].join(', ')}`,
        });
      g.endpoints.push({
        // kube-proxy uses an endpoint's first address only.
        ip: e.addresses[0]!,
        ready: e.conditions?.ready ?? true,
        ...(e.nodeName !== undefined ? { node: e.nodeName } : {}),
        ...(e.targetRef?.name !== undefined ? { name: e.targetRef.name } : {}),
      });
    });
    if (issues.length > before) given.delete(`${ns}/${name}`);
  }
  return services.map((s) => {
    const g = given.get(`${s.svc.namespace}/${s.svc.name}`);
    if (!g) return s;
    const ports = s.svc.ports.map((p) => ({
      ...p,
      targetPort: g.ports.get(`${p.name}/${p.protocol}`) ?? p.port,
    }));
    return { ...s, svc: { ...s.svc, ports, endpoints: g.endpoints } };
  });
}

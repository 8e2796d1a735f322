import type { ConfigIssue } from '../../errors.js';
import { Cidr } from '../../net/ip.js';
import { parseLabels, parseSelector, unknownFields } from './selector.js';
import {
  type IpBlock,
  LOG_ANNOTATION,
  NAMESPACE_NAME_LABEL,
  type NamespaceSpec,
  type NetworkPolicy,
  type Peer,
  type PolicyPort,
  type PolicyRule,
  type PolicyType,
  type Protocol,
} from './types.js';

/**
 * Strict parsing of `networking.k8s.io/v1 NetworkPolicy` and `v1 Namespace` documents, as the API server
 * validates them (with kubectl --validate=strict: unknown fields are errors). Every problem is pushed to
 * `issues` with its path; a selector or port that can never match is valid, a malformed one is not.
 */

type Doc = Record<string, unknown>;
const isObj = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v);

/** ObjectMeta fields a manifest may carry (podnet reads name, namespace and labels). */
const META_FIELDS = [
  'name',
  'namespace',
  'labels',
  'annotations',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generateName',
  'finalizers',
  'ownerReferences',
  'managedFields',
  'selfLink',
];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** IANA service name, what a named port must be: at most 15 of [a-z0-9-], a letter, no "--", no "-" at an end. */
const SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*$/;

export function portNameProblem(name: string): string | undefined {
  if (name.length > 15 || !SVC_NAME.test(name) || name.endsWith('-'))
    return 'must be an IANA service name: at most 15 lower-case letters, digits and "-", with at least one letter, no "--", not starting or ending with "-"';
  return undefined;
}

function metadata(
  doc: Doc,
  at: string,
  issues: ConfigIssue[],
  namespaced: boolean,
): { name: string; namespace: string; labels: Record<string, string>; log: boolean } | undefined {
  const m = doc.metadata;
  if (!isObj(m)) {
    issues.push({
      path: `${at}metadata`,
      message: m === undefined ? 'is missing' : `${show(m)} must be a mapping`,
    });
    return undefined;
  }
  const before = issues.length;
  unknownFields(m, META_FIELDS, `${at}metadata`, issues);
  const name = m.name;
  const nameRule = namespaced ? DNS_SUBDOMAIN : DNS_LABEL;
  if (typeof name !== 'string' || name.length > (namespaced ? 253 : 63) || !nameRule.test(name))
    issues.push({
      path: `${at}metadata.name`,
      message: `${name === undefined ? 'is missing' : show(name)}: must be a DNS ${namespaced ? 'subdomain' : 'label'} (lower-case letters, digits, "-"${namespaced ? ', "."' : ''})`,
    });
  let namespace = 'default';
  if (m.namespace !== undefined) {
    if (!namespaced)
      issues.push({ path: `${at}metadata.namespace`, message: 'a Namespace is not namespaced' });
    else if (typeof m.namespace !== 'string' || m.namespace.length > 63 || !DNS_LABEL.test(m.namespace))
      issues.push({ path: `${at}metadata.namespace`, message: `${show(m.namespace)} must be a DNS label` });
    else namespace = m.namespace;
  }
  const labels = parseLabels(m.labels, `${at}metadata.labels`, issues);
  if (issues.length > before || typeof name !== 'string' || !labels) return undefined;
  const log = isObj(m.annotations) && m.annotations[LOG_ANNOTATION] === 'true';
  return { name, namespace, labels, log };
}

function typeMeta(doc: Doc, at: string, apiVersion: string, kind: string, issues: ConfigIssue[]): void {
  if (doc.apiVersion !== apiVersion)
    issues.push({
      path: `${at}apiVersion`,
      message: `${show(doc.apiVersion)} is not supported for ${kind}`,
      hint: `use ${apiVersion}`,
    });
}

/** A `v1 Namespace`; its labels get `kubernetes.io/metadata.name` as the API server sets it. */
export function parseNamespace(doc: Doc, at: string, issues: ConfigIssue[]): NamespaceSpec | undefined {
  const before = issues.length;
  typeMeta(doc, at, 'v1', 'Namespace', issues);
  unknownFields(doc, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], at, issues);
  if (doc.spec !== undefined && !(isObj(doc.spec) && Object.keys(doc.spec).every((k) => k === 'finalizers')))
    issues.push({
      path: `${at}spec`,
      message: 'podnet reads only spec.finalizers of a Namespace (and ignores it)',
    });
  const m = metadata(doc, at, issues, false);
  if (!m || issues.length > before) return undefined;
  return { name: m.name, labels: { ...m.labels, [NAMESPACE_NAME_LABEL]: m.name } };
}

/** A `networking.k8s.io/v1 NetworkPolicy`, with policyTypes decided. */
export function parseNetworkPolicy(doc: Doc, at: string, issues: ConfigIssue[]): NetworkPolicy | undefined {
  const before = issues.length;
  typeMeta(doc, at, 'networking.k8s.io/v1', 'NetworkPolicy', issues);
  unknownFields(doc, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], at, issues);
  const m = metadata(doc, at, issues, true);
  const spec = doc.spec ?? {};
  if (!isObj(spec)) {
    issues.push({ path: `${at}spec`, message: `${show(spec)} must be a mapping` });
    return undefined;
  }
  const sp = `${at}spec`;
  unknownFields(spec, ['podSelector', 'policyTypes', 'ingress', 'egress'], sp, issues);
  const podSelector = parseSelector(spec.podSelector ?? {}, `${sp}.podSelector`, issues);

  let policyTypes: PolicyType[] | undefined;
  if (spec.policyTypes !== undefined && spec.policyTypes !== null) {
    if (!Array.isArray(spec.policyTypes))
      issues.push({ path: `${sp}.policyTypes`, message: `${show(spec.policyTypes)} must be a list` });
    else {
      policyTypes = [];
      spec.policyTypes.forEach((t: unknown, i: number) => {
        if (t !== 'Ingress' && t !== 'Egress')
          issues.push({
            path: `${sp}.policyTypes[${i}]`,
            message: `${show(t)} is not a policy type`,
            hint: 'Ingress or Egress',
          });
        else if (policyTypes!.includes(t))
          issues.push({ path: `${sp}.policyTypes[${i}]`, message: `${show(t)} is listed twice` });
        else policyTypes!.push(t);
      });
    }
  }
  const ingress = rules(spec.ingress, `${sp}.ingress`, 'from', issues);
  const egress = rules(spec.egress, `${sp}.egress`, 'to', issues);
  if (!m || !podSelector || !ingress || !egress || issues.length > before) return undefined;
  // The API server's default: Ingress always, Egress when egress rules are present.
  const types: PolicyType[] = policyTypes ?? [
    'Ingress',
    ...(spec.egress !== undefined && spec.egress !== null ? (['Egress'] as const) : []),
  ];
  return {
    name: m.name,
    namespace: m.namespace,
    podSelector,
    policyTypes: types,
    ingress: types.includes('Ingress') ? ingress : [],
    egress: types.includes('Egress') ? egress : [],
    ...(m.log ? { log: true } : {}),
  };
}

function rules(
  v: unknown,
  path: string,
  peersField: 'from' | 'to',
  issues: ConfigIssue[],
): PolicyRule[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issues.push({ path, message: `${show(v)} must be a list of rules` });
    return undefined;
  }
  const before = issues.length;
  const out: PolicyRule[] = [];
  v.forEach((r: unknown, i: number) => {
    const at = `${path}[${i}]`;
    if (!isObj(r)) {
      issues.push({ path: at, message: `${show(r)} must be a mapping (${peersField}, ports)` });
      return;
    }
    unknownFields(r, [peersField, 'ports'], at, issues);
    const peers = peerList(r[peersField], `${at}.${peersField}`, issues);
    const ports = portList(r.ports, `${at}.ports`, issues);
    out.push({ ...(peers?.length ? { peers } : {}), ...(ports?.length ? { ports } : {}) });
  });
  return issues.length > before ? undefined : out;
}

function peerList(v: unknown, path: string, issues: ConfigIssue[]): Peer[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    issues.push({ path, message: `${show(v)} must be a list of peers` });
    return undefined;
  }
  const out: Peer[] = [];
  v.forEach((p: unknown, i: number) => {
    const at = `${path}[${i}]`;
    if (!isObj(p)) {
      issues.push({
        path: at,
        message: `${show(p)} must be a mapping (podSelector, namespaceSelector, ipBlock)`,
      });
      return;
    }
    unknownFields(p, ['podSelector', 'namespaceSelector', 'ipBlock'], at, issues);
    const has = (k: string) => p[k] !== undefined && p[k] !== null;
    if (!has('podSelector') && !has('namespaceSelector') && !has('ipBlock')) {
      issues.push({ path: at, message: 'must specify a peer: podSelector, namespaceSelector or ipBlock' });
      return;
    }
    if (has('ipBlock')) {
      if (has('podSelector') || has('namespaceSelector')) {
        issues.push({
          path: at,
          message: 'ipBlock may not be combined with podSelector or namespaceSelector',
          hint: 'make them separate peers (OR)',
        });
        return;
      }
      const b = ipBlock(p.ipBlock, `${at}.ipBlock`, issues);
      if (b) out.push({ kind: 'ipBlock', ipBlock: b });
      return;
    }
    const podSelector = parseSelector(p.podSelector, `${at}.podSelector`, issues);
    const namespaceSelector = parseSelector(p.namespaceSelector, `${at}.namespaceSelector`, issues);
    out.push({
      kind: 'pods',
      ...(podSelector ? { podSelector } : {}),
      ...(namespaceSelector ? { namespaceSelector } : {}),
    });
  });
  return out;
}

function ipBlock(v: unknown, path: string, issues: ConfigIssue[]): IpBlock | undefined {
  if (!isObj(v)) {
    issues.push({ path, message: `${show(v)} must be a mapping (cidr, except)` });
    return undefined;
  }
  const before = issues.length;
  unknownFields(v, ['cidr', 'except'], path, issues);
  // Host bits may be set, as the API server allows ("192.168.1.1/24").
  const cidr = typeof v.cidr === 'string' ? Cidr.tryParse(v.cidr, false) : undefined;
  if (!cidr)
    issues.push({
      path: `${path}.cidr`,
      message: `${v.cidr === undefined ? 'is missing' : show(v.cidr)}: must be an IPv4 CIDR`,
      hint: 'e.g. 10.0.0.0/8 (this lab is IPv4 only)',
    });
  const except: Cidr[] = [];
  if (v.except !== undefined && v.except !== null) {
    if (!Array.isArray(v.except))
      issues.push({ path: `${path}.except`, message: `${show(v.except)} must be a list of CIDRs` });
    else
      v.except.forEach((e: unknown, i: number) => {
        const c = typeof e === 'string' ? Cidr.tryParse(e, false) : undefined;
        if (!c) issues.push({ path: `${path}.except[${i}]`, message: `${show(e)} must be an IPv4 CIDR` });
        else if (cidr && !(cidr.contains(c.network) && c.prefix > cidr.prefix))
          issues.push({
            path: `${path}.except[${i}]`,
            message: `${show(e)} must be a strict subset of cidr '${cidr}'`,
          });
        else except.push(c);
      });
  }
  return cidr && issues.length === before ? { cidr, except } : undefined;
}

function portList(v: unknown, path: string, issues: ConfigIssue[]): PolicyPort[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    issues.push({ path, message: `${show(v)} must be a list of ports` });
    return undefined;
  }
  const out: PolicyPort[] = [];
  v.forEach((p: unknown, i: number) => {
    const at = `${path}[${i}]`;
    if (!isObj(p)) {
      issues.push({ path: at, message: `${show(p)} must be a mapping (protocol, port, endPort)` });
      return;
    }
    const before = issues.length;
    unknownFields(p, ['protocol', 'port', 'endPort'], at, issues);
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP')
      issues.push({
        path: `${at}.protocol`,
        message: `${show(p.protocol)} is not supported`,
        hint: 'TCP, UDP or SCTP',
      });
    const port = p.port;
    if (port !== undefined && port !== null) {
      if (typeof port === 'number') {
        if (!Number.isInteger(port) || port < 1 || port > 65535)
          issues.push({
            path: `${at}.port`,
            message: `${show(port)} must be a port number 1-65535 or a port name`,
          });
      } else if (typeof port === 'string') {
        if (/^\d+$/.test(port))
          issues.push({
            path: `${at}.port`,
            message: `${show(port)} is a number written as a string`,
            hint: 'write it unquoted',
          });
        else {
          const np = portNameProblem(port);
          if (np) issues.push({ path: `${at}.port`, message: `${show(port)} ${np}` });
        }
      } else issues.push({ path: `${at}.port`, message: `${show(port)} must be a port number or name` });
    }
    const endPort = p.endPort;
    if (endPort !== undefined && endPort !== null) {
      if (typeof endPort !== 'number' || !Number.isInteger(endPort) || endPort < 1 || endPort > 65535)
        issues.push({ path: `${at}.endPort`, message: `${show(endPort)} must be a port number 1-65535` });
      else if (typeof port !== 'number')
        issues.push({
          path: `${at}.endPort`,
          message: 'may only be used with a numeric port',
          hint: port === undefined ? 'set port too' : 'a named port cannot be a range',
        });
      else if (endPort < port)
        issues.push({
          path: `${at}.endPort`,
          message: `${endPort} must be greater than or equal to port ${port}`,
        });
    }
    if (issues.length > before) return;
    out.push({
      protocol,
      ...(port !== undefined && port !== null ? { port: port as number | string } : {}),
      ...(typeof endPort === 'number' ? { endPort } : {}),
    });
  });
  return out;
}

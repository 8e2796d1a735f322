import { ConfigError, type ConfigIssue } from '../errors.js';
import type { ClusterSpec } from './cluster.js';
import { checkCluster } from './cluster-checks.js';
import { defaultClusterDoc } from './defaults.js';
import { type SourceDoc, splitDocuments } from './documents.js';
import { readEndpointSlices } from './endpoint-slice.js';
import { readK8sPods } from './k8s-pods.js';
import { checkPolicyDocs } from './policy/cluster-docs.js';
import { clusterDocSchema } from './schema.js';
import { parseServiceManifest } from './service-manifest.js';
import { parsePath, strictParse, suggest } from './strict.js';

type Doc = Record<string, unknown>;

/** The kinds a cluster file may hold, with the apiVersion each must carry. */
const KINDS: Readonly<Record<string, string>> = {
  Cluster: 'podnet.dev/v1alpha1',
  Pod: 'v1',
  Service: 'v1',
  Namespace: 'v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

/**
 * Reads a cluster file: one `kind: Cluster` document (YAML or JSON) plus any number of plain Kubernetes
 * `kind: Pod` and `kind: Service` documents. Without a Cluster document the default (seed) topology is used with
 * the file's pods. Throws ConfigError listing every problem found, each with its path, value and position.
 */
export function parseClusterFile(text: string, source = 'cluster spec'): ClusterSpec {
  const { docs, issues } = splitDocuments(text, source);
  return parseClusterDocs(docs, source, issues);
}

/**
 * Same as parseClusterFile for already-decoded documents (e.g. from the agent's datastore). `known` are
 * problems already found in the file (documents that are not mappings), listed with the others.
 */
export function parseClusterDocs(
  docs: readonly SourceDoc[],
  source = 'cluster spec',
  known: readonly ConfigIssue[] = [],
): ClusterSpec {
  const issues: ConfigIssue[] = [...known];
  try {
    return checkDocs(docs, issues, source);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(inFileOrder(positioned(e.issues, docs)), source);
    throw e;
  }
}

/**
 * Problems in the order of the file (flags and whole-file problems first), each once: a kind or apiVersion
 * refused by the kind check is not repeated by the kind's schema.
 */
function inFileOrder(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  const once = issues.filter((i) => {
    if (!/: (kind|apiVersion)$/.test(i.path)) return true;
    if (seen.has(i.path)) return false;
    seen.add(i.path);
    return true;
  });
  return once
    .map((i, n) => ({ i, n }))
    .sort((a, b) => (a.i.line ?? 0) - (b.i.line ?? 0) || (a.i.column ?? 0) - (b.i.column ?? 0) || a.n - b.n)
    .map((x) => x.i);
}

/** Adds line and column to issues whose path was built as text, from the document their prefix names. */
function positioned(issues: readonly ConfigIssue[], docs: readonly SourceDoc[]): ConfigIssue[] {
  const sorted = [...docs].filter((d) => d.at && d.locate).sort((a, b) => b.at.length - a.at.length);
  return issues.map((i) => {
    if (i.line !== undefined) return i;
    const d = sorted.find((x) => i.path.startsWith(x.at));
    const p = d?.locate?.(parsePath(i.path.slice(d.at.length)), i.atKey);
    return p ? { ...i, line: p.line, column: p.column } : i;
  });
}

function checkDocs(docs: readonly SourceDoc[], issues: ConfigIssue[], source: string): ClusterSpec {
  for (const d of docs) {
    const kind = d.doc.kind;
    if (kind === undefined) {
      issues.push({
        path: `${d.at}kind`,
        message: 'is missing',
        hint: `one of: ${Object.keys(KINDS).join(', ')}`,
        ...d.locate?.([]),
      });
    } else if (typeof kind !== 'string' || !(kind in KINDS)) {
      const near = typeof kind === 'string' ? suggest(kind, Object.keys(KINDS)) : undefined;
      issues.push({
        path: `${d.at}kind`,
        message: `${JSON.stringify(kind)} is not supported${near ? `; did you mean '${near}'?` : ''}`,
        hint: 'use kind: Cluster (apiVersion podnet.dev/v1alpha1), kind: Pod, Service or Namespace (v1), kind: NetworkPolicy (networking.k8s.io/v1), kind: EndpointSlice (discovery.k8s.io/v1)',
        ...d.locate?.(['kind']),
      });
    } else if (d.doc.apiVersion !== KINDS[kind]) {
      issues.push({
        path: `${d.at}apiVersion`,
        message: `${d.doc.apiVersion === undefined ? 'is missing' : `${JSON.stringify(d.doc.apiVersion)} is not allowed`} for kind ${kind}`,
        hint: `use apiVersion: ${KINDS[kind]}`,
        ...d.locate?.(['apiVersion']),
      });
    }
  }
  const clusters = docs.filter((d) => d.doc.kind === 'Cluster');
  const pods = docs.filter((d) => d.doc.kind === 'Pod');
  const serviceDocs = docs.filter((d) => d.doc.kind === 'Service');
  for (const extra of clusters.slice(1))
    issues.push({
      path: `${extra.at}kind`,
      message: 'a file may hold only one Cluster document',
      hint: `the first is ${clusters[0]!.at.replace(/: $/, '')}`,
      ...extra.locate?.(['kind']),
    });

  // Without a Cluster document, the file's Pods and Services join the default (seed) cluster.
  const clusterDoc: SourceDoc = clusters[0] ?? {
    doc: defaultClusterDoc() as unknown as Doc,
    at: 'default cluster: ',
  };
  const c = strictParse(clusterDocSchema, clusterDoc.doc, clusterDoc);
  if (!c.ok) issues.push(...c.issues);

  const extraPods = readK8sPods(pods, issues);
  // Top-level Services are checked now, so their problems are listed beside every other document's.
  const topServices = serviceDocs.flatMap((d) => {
    const svc = parseServiceManifest(d.doc, d, issues);
    return svc ? [{ svc, at: d.at }] : [];
  });
  // Namespaces, NetworkPolicies and EndpointSlices too, for the same reason.
  const policyDocs = checkPolicyDocs(docs, issues);
  const slices = readEndpointSlices(docs, issues);
  if (issues.length || !c.ok) throw new ConfigError(issues, source);
  return checkCluster(
    { cluster: c.data, clusterDoc, extraPods, topServices, policyDocs, slices },
    issues,
    source,
  );
}

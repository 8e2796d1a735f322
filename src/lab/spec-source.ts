import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { ClusterSpec } from '../model/cluster.js';
import { defaultClusterDoc } from '../model/defaults.js';
import { type SourceDoc, splitDocuments } from '../model/documents.js';
import { parseClusterDocs } from '../model/parse.js';
import { clusterSpecSchema } from '../model/schema.js';
import { schemaAt, strictParse } from '../model/strict.js';
import { applyEdits, type SpecEdit } from './edits.js';
import { reservedNodeName } from './names.js';

/** Spec fields the CLI may override (e.g. `--cross-node vxlan`). */
export type SpecOverrides = Readonly<Record<string, string>>;

/** The flag that sets each overridable spec field, for messages. */
const OVERRIDE_FLAG: Readonly<Record<string, string>> = {
  sameNode: '--same-node',
  crossNode: '--cross-node',
  proxy: '--proxy',
  'vxlan.learning': '--vxlan-learning',
};

/** Each override's value checked against the spec field it replaces (the flag is named in the message). */
function overrideIssues(overrides: SpecOverrides): ConfigIssue[] {
  return Object.entries(overrides).flatMap(([k, v]) => {
    const flag = OVERRIDE_FLAG[k] ?? k;
    const field = schemaAt(clusterSpecSchema(), k.split('.'));
    if (!field) return [{ path: flag, message: `overrides no known spec field '${k}'` }];
    const r = strictParse(field, v, { at: '' });
    return r.ok ? [] : r.issues.map((i) => ({ ...i, path: flag }));
  });
}

/**
 * Reads the cluster file (or the default seed cluster), applies overrides and edits, and checks lab-specific
 * rules. One path whatever the flags: the file's syntax, every document's fields and the flags' values are
 * checked together, and every problem is reported at once. `notes` receives what the user might not expect
 * (a file without a Cluster document joins the default cluster).
 */
export function loadSpec(
  text: string | undefined,
  source: string,
  overrides: SpecOverrides = {},
  edits: readonly SpecEdit[] = [],
  notes?: string[],
): ClusterSpec {
  const issues = overrideIssues(overrides);
  let docs: SourceDoc[] = [];
  const known: ConfigIssue[] = [];
  if (text !== undefined) {
    try {
      const split = splitDocuments(text, source);
      docs = split.docs;
      known.push(...split.issues);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues.unshift(...e.issues);
    }
  }
  if (issues.some((i) => !i.path.startsWith('--'))) throw new ConfigError([...issues, ...known], source);
  // Flag values already refused are not applied, so the file's own problems are listed beside them once.
  known.push(...issues);
  const bad = new Set(issues.map((i) => i.path));
  overrides = Object.fromEntries(Object.entries(overrides).filter(([k]) => !bad.has(OVERRIDE_FLAG[k] ?? k)));
  let cluster = docs.find((d) => d.doc.kind === 'Cluster');
  if (!cluster) {
    // As in parseClusterFile: the file's Pods and Services join the default (seed) cluster.
    cluster = { doc: defaultClusterDoc() as unknown as Record<string, unknown>, at: 'default cluster: ' };
    docs = [cluster, ...docs];
    if (text !== undefined) notes?.push(joinedDefaultNote(source, docs));
  }
  let spec: ClusterSpec;
  // The file is checked as written whatever the flags: an override replaces a field's value but never hides
  // the file's own problems (the effective spec is checked again below, for what the flags change).
  if (text !== undefined && (Object.keys(overrides).length > 0 || edits.length > 0))
    parseClusterDocs(docs, source, known);
  if (Object.keys(overrides).length === 0 && edits.length === 0) {
    spec = parseClusterDocs(docs, source, known);
  } else {
    const raw = cluster.doc.spec;
    const s: Record<string, unknown> =
      raw && typeof raw === 'object' && !Array.isArray(raw) ? { ...raw } : {};
    for (const [k, v] of Object.entries(overrides)) {
      // Dotted keys reach into nested settings (`vxlan.learning`).
      const [head, sub] = k.split('.', 2) as [string, string | undefined];
      if (sub === undefined) s[head] = v;
      else s[head] = { ...((s[head] as Record<string, unknown> | undefined) ?? {}), [sub]: v };
    }
    // Runtime changes (`lab node|pod add|remove`), replayed over the original text.
    const edited = applyEdits(
      s,
      docs.filter((d) => d.doc.kind === 'Pod').map((d) => d.doc),
      edits,
    );
    const keep = new Set(edited.podDocs);
    const clusterDoc = cluster;
    spec = parseClusterDocs(
      docs
        .filter((d) => d.doc.kind !== 'Pod' || keep.has(d.doc))
        .map((d) => (d === clusterDoc ? { ...d, doc: { ...d.doc, spec: edited.spec } } : d)),
      source,
      known,
    );
  }
  const reserved = spec.nodes.filter((n) => reservedNodeName(n.name));
  if (reserved.length) {
    throw new ConfigError(
      reserved.map((n) => ({
        path: `${cluster.at}spec.nodes[${spec.nodes.indexOf(n)}].name`,
        message: `'${n.name}' is reserved by the lab (it names the switch and pod namespaces)`,
        hint: "avoid 'switch' and names starting with 'pod-'",
      })),
      source,
    );
  }
  return spec;
}

/** The text of a spec file, or undefined for the default cluster. */
export function readSpecFile(file: string | undefined): { text: string | undefined; source: string } {
  if (!file) return { text: undefined, source: 'default cluster (the seed topology)' };
  try {
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (e) {
    throw new ConfigError(
      [{ path: '-f', message: `cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? String(e)}` }],
      'command line',
    );
  }
}

/** What joining the default cluster means, said once so a pods-only file holds no surprise. */
function joinedDefaultNote(source: string, docs: readonly SourceDoc[]): string {
  const d = defaultClusterDoc().spec;
  const own = docs.filter((x) => ['Pod', 'Service', 'EndpointSlice'].includes(String(x.doc.kind))).length;
  return (
    `${source} has no Cluster document: its ${own} object(s) joined the default cluster (the seed's: ` +
    `nodes ${d.nodes.map((n) => n.name).join(', ')}, crossNode ${d.crossNode}), which keeps its own pods ` +
    `${d.pods.map((p) => p.name).join(', ')} and service default/web (docs/spec.md, "Defaults")`
  );
}

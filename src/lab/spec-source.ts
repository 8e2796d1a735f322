import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../errors.js';
import type { ClusterSpec } from '../model/cluster.js';
import { defaultClusterDoc } from '../model/defaults.js';
import { parseClusterDocs, parseClusterFile } from '../model/parse.js';
import { applyEdits, type SpecEdit } from './edits.js';
import { reservedNodeName } from './names.js';

/** Spec fields the CLI may override (e.g. `--cross-node vxlan`). */
export type SpecOverrides = Readonly<Record<string, string>>;

/** Reads the cluster file (or the default seed cluster), applies overrides, and checks lab-specific rules. */
export function loadSpec(
  text: string | undefined,
  source: string,
  overrides: SpecOverrides = {},
  edits: readonly SpecEdit[] = [],
): ClusterSpec {
  let spec: ClusterSpec;
  if (Object.keys(overrides).length === 0 && edits.length === 0 && text !== undefined) {
    spec = parseClusterFile(text, source);
  } else {
    const docs =
      text === undefined
        ? []
        : parseAllDocuments(text)
            .flatMap((d) => (Array.isArray(d) ? d : [d]))
            .map((d) => d.toJS() as Record<string, unknown>);
    const list = docs
      .filter((d) => d && typeof d === 'object')
      .map((doc, i) => ({ doc, at: docs.length > 1 ? `document ${i + 1}: ` : '' }));
    let cluster = list.find((d) => d.doc.kind === 'Cluster');
    if (!cluster) {
      // As in parseClusterFile: the file's Pods and Services join the default (seed) cluster.
      cluster = { doc: defaultClusterDoc() as unknown as Record<string, unknown>, at: '' };
      list.unshift(cluster);
    }
    const s = { ...(cluster.doc.spec as Record<string, unknown>) };
    for (const [k, v] of Object.entries(overrides)) {
      // Dotted keys reach into nested settings (`vxlan.learning`).
      const [head, sub] = k.split('.', 2) as [string, string | undefined];
      if (sub === undefined) s[head] = v;
      else s[head] = { ...((s[head] as Record<string, unknown> | undefined) ?? {}), [sub]: v };
    }
    // Runtime changes (`lab node|pod add|remove`), replayed over the original text.
    const edited = applyEdits(
      s,
      list.filter((d) => d.doc.kind === 'Pod').map((d) => d.doc),
      edits,
    );
    cluster.doc = { ...cluster.doc, spec: edited.spec };
    const keep = new Set(edited.podDocs);
    spec = parseClusterDocs(
      list.filter((d) => d.doc.kind !== 'Pod' || keep.has(d.doc)),
      source,
    );
  }
  const reserved = spec.nodes.filter((n) => reservedNodeName(n.name));
  if (reserved.length) {
    throw new ConfigError(
      reserved.map((n) => ({
        path: `spec.nodes[${spec.nodes.indexOf(n)}].name`,
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

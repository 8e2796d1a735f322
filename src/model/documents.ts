import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { Position } from './strict.js';

/** One decoded document of a file, with the prefix its issues carry and the positions of its fields. */
export interface SourceDoc {
  readonly doc: Record<string, unknown>;
  /** `document 2 (Pod web): `: index in the file, kind and name, as the user wrote them. */
  readonly at: string;
  readonly locate?: (path: readonly PropertyKey[], key?: boolean) => Position | undefined;
}

/** The name a document gives itself, for the prefix of its issues. */
function label(index: number, v: Record<string, unknown>): string {
  const kind = typeof v.kind === 'string' ? v.kind : undefined;
  const meta = v.metadata as Record<string, unknown> | undefined;
  const name = meta && typeof meta === 'object' && typeof meta.name === 'string' ? meta.name : undefined;
  const what = [kind, name].filter(Boolean).join(' ');
  return `document ${index + 1}${what ? ` (${what})` : ''}: `;
}

/** First byte that makes `text` not a text file (NUL, or bytes that were not UTF-8), if any. */
function binaryAt(text: string): number | undefined {
  const i = text.search(/[\u0000\uFFFD]/);
  return i >= 0 ? i : undefined;
}

/**
 * Splits a YAML or JSON file into its documents. Syntax problems (with line and column) and duplicate keys in
 * any document, binary content and an empty file throw a ConfigError listing all of them. Documents that are
 * not mappings are returned as `issues`, so the caller lists them beside the other documents' problems.
 * Empty documents (`---` alone) are skipped, as kubectl does.
 */
export function splitDocuments(text: string, source: string): { docs: SourceDoc[]; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const notMappings: ConfigIssue[] = [];
  const bad = binaryAt(text);
  if (bad !== undefined) {
    const before = text.slice(0, bad).split('\n');
    throw new ConfigError(
      [
        {
          path: '(file)',
          message: `is not a YAML or JSON text file: it holds a ${text[bad] === '\u0000' ? 'NUL byte' : 'byte sequence that is not UTF-8'}`,
          line: before.length,
          column: before.at(-1)!.length + 1,
        },
      ],
      source,
    );
  }
  const lc = new LineCounter();
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    // Duplicate keys are found by duplicateKeys below, which names the key and where it is.
    parsed = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: false });
  } catch (e) {
    throw new ConfigError([{ path: '(file)', message: `cannot be parsed: ${(e as Error).message}` }], source);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const docs: SourceDoc[] = [];
  list.forEach((d, i) => {
    for (const e of [...d.errors]) {
      const pos = e.linePos?.[0];
      issues.push({
        path: `document ${i + 1}`,
        message: `is not valid YAML/JSON: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
        ...(pos ? { line: pos.line, column: pos.col } : {}),
      });
    }
    if (d.errors.length) return;
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      issues.push({ path: `document ${i + 1}`, message: `cannot be decoded: ${(e as Error).message}` });
      return;
    }
    const prefix =
      value && typeof value === 'object' && !Array.isArray(value)
        ? label(i, value as Record<string, unknown>)
        : `document ${i + 1}: `;
    const dups = duplicateKeys(d.contents as Node | null, lc, prefix);
    if (dups.length) {
      issues.push(...dups);
      return;
    }
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      const start = d.contents?.range ? lc.linePos(d.contents.range[0]) : undefined;
      notMappings.push({
        path: `document ${i + 1}`,
        message: `is ${Array.isArray(value) ? 'a list' : `the ${typeof value} ${JSON.stringify(value).slice(0, 40)}`}, not a mapping`,
        hint: 'each document is one object: apiVersion, kind, metadata, spec',
        ...(start ? { line: start.line, column: start.col } : {}),
      });
      return;
    }
    const v = value as Record<string, unknown>;
    const root = d.contents as Node | null;
    docs.push({
      doc: v,
      at: label(i, v),
      locate: (path, key) => {
        const n = nodeAt(root, path, key ?? false);
        if (!n?.range) return undefined;
        const p = lc.linePos(n.range[0]);
        return { line: p.line, column: p.col };
      },
    });
  });
  if (issues.length) throw new ConfigError(issues, source);
  if (docs.length === 0 && notMappings.length === 0)
    throw new ConfigError(
      [
        {
          path: '(file)',
          message: 'holds no objects',
          hint: 'kubectl says "no objects passed to apply"; omit -f for the default cluster',
        },
      ],
      source,
    );
  return { docs, issues: notMappings };
}

/** splitDocuments, with every problem thrown (for callers that take one kind of document). */
export function readDocuments(text: string, source: string): SourceDoc[] {
  const { docs, issues } = splitDocuments(text, source);
  if (issues.length) throw new ConfigError(issues, source);
  return docs;
}

/**
 * Every key that appears twice in one mapping, named by its path as written (`spec.nodeName`) and where the
 * repeat is; kubectl and the YAML spec refuse them, and a last-one-wins reading would hide a typo's effect.
 */
function duplicateKeys(root: Node | null, lc: LineCounter, prefix: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const walk = (node: unknown, path: string) => {
    if (isMap(node)) {
      const seen = new Map<unknown, number>();
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        const here = `${path}${path ? '.' : ''}${String(k)}`;
        const keyNode = pair.key as Node | null;
        const pos = keyNode?.range ? lc.linePos(keyNode.range[0]) : undefined;
        if (seen.has(k))
          out.push({
            path: `${prefix.replace(/: $/, '')}: ${here}`,
            message: `duplicate key '${String(k)}' (first at line ${seen.get(k)})`,
            hint: 'each key may appear once in a mapping',
            ...(pos ? { line: pos.line, column: pos.col } : {}),
          });
        else seen.set(k, pos?.line ?? 0);
        walk(pair.value, here);
      }
    } else if (isSeq(node)) for (const [i, item] of node.items.entries()) walk(item, `${path}[${i}]`);
  };
  walk(root, '');
  return out;
}

/** The node at `path` (its key node when `key`), or the closest ancestor the document has. */
function nodeAt(root: Node | null, path: readonly PropertyKey[], key: boolean): Node | undefined {
  let node: unknown = root;
  let last: Node | undefined = root ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const k = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
      if (!pair) return last;
      if (key && i === path.length - 1) return (pair.key as Node) ?? last;
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number') {
      node = node.items[k];
    } else return last;
    if (!node || typeof node !== 'object' || !('range' in node)) return last;
    last = node as Node;
  }
  return last;
}

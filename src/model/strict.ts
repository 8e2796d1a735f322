import type { ConfigIssue } from '../errors.js';
import * as z from './mini-schema.js';

/**
 * Strict validation of one decoded document against a schema (mini-schema.ts, zod's API), as `kubectl apply --validate=strict` does:
 * unknown fields are errors (with the allowed list and a "did you mean" for close spellings), wrong types name
 * the value and the type wanted, and every problem is returned at once, in the order of the user's file.
 *
 * A kind plugs in with a schema built from `z.strictObject` (or `k8sObject` for Kubernetes kinds, which adds
 * the fields podnet accepts and ignores) and calls `schemaIssues(schema, doc, where)`; see docs/spec.md.
 */

/** Where a document sits in the user's file: the prefix of its issues' paths, and positions of its fields. */
export interface DocWhere {
  /** e.g. `document 2 (Pod web): `; '' for a value that is not from a file. */
  readonly at: string;
  /** Line and column (1-based) of the field at `path`, or of its closest ancestor the file has. */
  readonly locate?: (path: readonly PropertyKey[], key?: boolean) => Position | undefined;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

type Schema = z.Schema;

const IGNORED = new WeakSet<Schema>();
const REFUSED = new WeakSet<Schema>();

let ignoredField: z.OptionalSchema<z.Schema> | undefined;

/** `build` run once, on first call: each kind's schemas are built only when a document of that kind is read. */
export function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}

/**
 * A field Kubernetes objects carry but podnet does not use: accepted whatever its value, and ignored. One shared
 * schema for all of them (schemas are immutable): the CLI builds the schemas of the kinds it reads on each start.
 */
export function ignored() {
  if (!ignoredField) {
    ignoredField = z.optional(z.unknown());
    IGNORED.add(ignoredField);
  }
  return ignoredField;
}

/**
 * A strict Kubernetes object: the fields podnet reads (`shape`), plus `ignoredFields` accepted and ignored.
 * Every other field is an unknown-field error.
 */
export function k8sObject<S extends z.Shape>(shape: S, ignoredFields: readonly string[] = []) {
  const extra: Record<string, ReturnType<typeof ignored>> = {};
  for (const f of ignoredFields) extra[f] = ignored();
  return z.strictObject({ ...extra, ...shape } as S);
}

/** The object schema at `path` inside `schema` (through optional, default, array, record, union), if any. */
export function schemaAt(schema: Schema, path: readonly PropertyKey[]): Schema | undefined {
  let s: Schema | undefined = unwrap(schema);
  for (const k of path) {
    if (!s) return undefined;
    if (s instanceof z.ObjectSchema) s = (s.shape as z.Shape)[String(k)];
    else if (s instanceof z.ArraySchema) s = s.element;
    else if (s instanceof z.RecordSchema) s = s.valueType;
    else if (s instanceof z.UnionSchema)
      s = (s.options as readonly Schema[]).map((o) => schemaAt(o, [k])).find((x) => x !== undefined);
    else return undefined;
    s = s && unwrap(s);
  }
  return s;
}

function unwrap(s: Schema): Schema {
  while (s instanceof z.OptionalSchema || s instanceof z.DefaultSchema) s = s.innerType;
  return s;
}

/** The fields an object schema knows, split into the ones podnet uses and the ones it ignores. */
export function fieldsOf(schema: Schema | undefined): {
  used: string[];
  ignored: string[];
  refused: string[];
} {
  const s = schema && unwrap(schema);
  if (!(s instanceof z.ObjectSchema)) return { used: [], ignored: [], refused: [] };
  const entries = Object.entries(s.shape as z.Shape);
  const pick = (f: (v: Schema) => boolean) => entries.filter(([, v]) => f(v)).map(([k]) => k);
  return {
    used: pick((v) => !IGNORED.has(v) && !REFUSED.has(v)),
    ignored: pick((v) => IGNORED.has(v)),
    refused: pick((v) => REFUSED.has(v)),
  };
}

/** Every ignored field of a schema, as dotted paths (`metadata.uid`, `spec.containers[].image`), for docs. */
export function ignoredPaths(schema: Schema, prefix = ''): string[] {
  const s = unwrap(schema);
  if (s instanceof z.ArraySchema) return ignoredPaths(s.element, `${prefix}[]`);
  if (!(s instanceof z.ObjectSchema)) return [];
  return Object.entries(s.shape as z.Shape).flatMap(([k, v]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return IGNORED.has(v) ? [p] : ignoredPaths(v, p);
  });
}

/** A close spelling of `word` among `candidates` (case-insensitive, edit distance ≤ 2 and under half its length). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d <= Math.min(2, Math.floor(Math.max(w.length, c.length) / 2)) && (!best || d < best.d))
      best = { c, d };
  }
  return best?.c;
}

/** Damerau-Levenshtein (optimal string alignment) distance. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** `spec.containers[1].name` from ['spec', 'containers', 1, 'name']. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((k, i) =>
      typeof k === 'number'
        ? `[${k}]`
        : /^[A-Za-z_][\w-]*$/.test(String(k))
          ? `${i === 0 ? '' : '.'}${String(k)}`
          : `[${JSON.stringify(String(k))}]`,
    )
    .join('');
}

/** The inverse of formatPath, for issues whose path was built as text. */
export function parsePath(text: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of text.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(`"${m[2]}"`) as string);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

/** The value at `path`, or undefined. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** How a value reads in a message: its JSON, shortened. */
export function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

const WANTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
};

/** Every problem of `value` against `schema`, with paths as written in the user's file. */
export function schemaIssues(schema: Schema, value: unknown, where: DocWhere): ConfigIssue[] {
  const r = z.safeParse(schema, value);
  if (r.success) return [];
  return r.error.issues.flatMap((i) => toIssues(i, schema, value, where));
}

function toIssues(i: z.Issue, schema: Schema, root: unknown, where: DocWhere): ConfigIssue[] {
  const pos = (path: readonly PropertyKey[], key = false) => where.locate?.(path, key);
  const issue = (path: readonly PropertyKey[], message: string, hint?: string, key = false): ConfigIssue => {
    const p = pos(path, key);
    return {
      path: `${where.at}${formatPath(path) || '(top level)'}`,
      message,
      ...(hint ? { hint } : {}),
      ...(p ? { line: p.line, column: p.column } : {}),
    };
  };
  const value = valueAt(root, i.path);
  switch (i.code) {
    case 'unrecognized_keys': {
      const { used, ignored: skip, refused } = fieldsOf(schemaAt(schema, i.path));
      return i.keys.map((k) => {
        const near = suggest(k, [...used, ...skip, ...refused]);
        const also = skip.length
          ? `; ${skip.length} more Kubernetes fields are accepted and ignored (docs/spec.md)`
          : '';
        return issue(
          [...i.path, k],
          `unknown field${near ? `; did you mean '${near}'?` : ''}`,
          `allowed here: ${used.join(', ')}${also}`,
          true,
        );
      });
    }
    case 'invalid_type': {
      const want = WANTED[i.expected] ?? i.expected;
      if (value === undefined) return [issue(i.path, `is missing (${want})`)];
      return [issue(i.path, `${shown(value)} is ${typeName(value)}; expected ${want}`)];
    }
    case 'invalid_value': {
      const values = i.values.map((v) => String(v));
      if (value === undefined)
        return [issue(i.path, `is missing (${values.map((v) => `'${v}'`).join(' | ')})`)];
      const near = typeof value === 'string' ? suggest(value, values) : undefined;
      return [
        issue(
          i.path,
          `${shown(value)} is not allowed${near ? `; did you mean '${near}'?` : ''}`,
          `one of: ${values.join(', ')}`,
        ),
      ];
    }
    case 'invalid_union': {
      if (value === undefined) return [issue(i.path, 'is missing')];
      return [issue(i.path, `${shown(value)} is ${typeName(value)}, which is not allowed here`)];
    }
    case 'custom':
      return [issue(i.path, `${shown(value)} ${i.message}`)];
    default:
      if (value === undefined) return [issue(i.path, `is missing (${i.message})`)];
      return [issue(i.path, `${shown(value)} ${i.message.replace(/^Invalid input: /, 'is invalid: ')}`)];
  }
}

const BUILT_IN = new WeakSet<object>();

/**
 * Marks a value podnet itself wrote (the default cluster, the seed's Service) as valid and already in the shape
 * its schema outputs (every default present): strictParse returns it as it is, so a file that joins the default
 * cluster builds no schema for what it does not hold. defaults.test.ts checks both against their schemas.
 */
export function builtIn<T extends object>(value: T): T {
  BUILT_IN.add(value);
  return value;
}

/** Parses `value` with `schema`: the data, or every problem (see schemaIssues). */
export function strictParse<S extends Schema>(
  schema: S | (() => S),
  value: unknown,
  where: DocWhere,
): { ok: true; data: z.output<S> } | { ok: false; issues: ConfigIssue[] } {
  if (typeof value === 'object' && value !== null && BUILT_IN.has(value))
    return { ok: true, data: value as z.output<S> };
  if (typeof schema === 'function') schema = schema();
  const r = z.safeParse(schema, value);
  if (r.success) return { ok: true, data: r.data };
  return { ok: false, issues: r.error.issues.flatMap((i) => toIssues(i, schema, value, where)) };
}

/** A field podnet refuses rather than ignores, because ignoring it would change what the user gets. */
export function unsupported(reason: string, allowed?: unknown) {
  const s = z.optional(
    z.custom<unknown>((v) => v === undefined || (allowed !== undefined && v === allowed), {
      error: `is not supported: ${reason}`,
    }),
  );
  REFUSED.add(s);
  return s;
}

/** ObjectMeta fields the API server sets or podnet has no use for: accepted and ignored on every kind. */
export const IGNORED_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'ownerReferences',
  'finalizers',
  'managedFields',
  'generateName',
  'selfLink',
] as const;

/** A Kubernetes object's metadata: `shape` plus the ignored ObjectMeta fields (and annotations, unless used). */
export function k8sMetadata<S extends z.Shape>(shape: S) {
  return k8sObject(shape, [...IGNORED_METADATA, ...('annotations' in shape ? [] : ['annotations'])]);
}

/**
 * The subset of zod/mini that podnet's document schemas use (schema.ts, service-manifest.ts, endpoint-slice.ts),
 * with zod's API names, issue shapes and English messages, as small classes that build in microseconds: a
 * refused `lab up -f` builds the schemas of the kinds its file holds on every start, and zod's building and
 * code were most of its cost (docs/lab.md, "Start-up"). mini-schema.test.ts checks it against zod itself.
 * Import it as `import * as z from './mini-schema.js'`.
 */

export type PathKey = string | number;

/** One problem, as zod reports it (the codes and fields strict.ts reads). */
export type Issue =
  | { code: 'invalid_type'; expected: string; path: PathKey[]; message: string }
  | { code: 'invalid_value'; values: unknown[]; path: PathKey[]; message: string }
  | { code: 'unrecognized_keys'; keys: string[]; path: PathKey[]; message: string }
  | { code: 'too_big' | 'too_small'; path: PathKey[]; message: string }
  | { code: 'invalid_format' | 'invalid_union' | 'custom'; path: PathKey[]; message: string };

/** A check of a string, number or array value: its problem (`abort`: skip the checks after it), or undefined. */
export interface Check {
  readonly run: (v: never) => (Issue & { abort?: boolean }) | undefined;
}

type Ctx = { issues: Issue[]; path: PathKey[] };

/** Issues of checks that let the checks after them run (zod's `continue`): a union tells its options by them. */
const SOFT = new WeakSet<Issue>();

/** A schema: parses `value` into its output, pushing problems to ctx (O and I are the output and input types). */
export abstract class Schema<O = unknown, I = O> {
  declare readonly _output: O;
  declare readonly _input: I;
  abstract readonly type: string;
  readonly checks: readonly Check[] = [];
  abstract parse(value: unknown, ctx: Ctx): unknown;
  /** The same schema with `checks` added (zod's `.check()`). */
  check(...checks: Check[]): this {
    const copy = Object.create(Object.getPrototypeOf(this));
    return Object.assign(copy, this, { checks: [...this.checks, ...checks] });
  }
  protected checked(value: unknown, ctx: Ctx): unknown {
    for (const c of this.checks) {
      const r = (c.run as (v: unknown) => ReturnType<Check['run']>)(value);
      if (!r) continue;
      const { abort, ...i } = r;
      const issue = { ...i, path: [...ctx.path, ...i.path] } as Issue;
      if (!abort) SOFT.add(issue);
      ctx.issues.push(issue);
      if (abort) break;
    }
    return value;
  }
}

export type output<S> = S extends Schema<infer O, unknown> ? O : never;
export type input<S> = S extends Schema<unknown, infer I> ? I : never;

function received(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  return typeof v;
}

function invalidType(expected: string, v: unknown, ctx: Ctx): undefined {
  ctx.issues.push({
    code: 'invalid_type',
    expected,
    path: [...ctx.path],
    message: `Invalid input: expected ${expected}, received ${received(v)}`,
  });
  return undefined;
}

class StringSchema extends Schema<string> {
  readonly type = 'string';
  parse(v: unknown, ctx: Ctx) {
    return typeof v === 'string' ? this.checked(v, ctx) : invalidType('string', v, ctx);
  }
}

class NumberSchema extends Schema<number> {
  readonly type = 'number';
  parse(v: unknown, ctx: Ctx) {
    return typeof v === 'number' && Number.isFinite(v) ? this.checked(v, ctx) : invalidType('number', v, ctx);
  }
}

class BooleanSchema extends Schema<boolean> {
  readonly type = 'boolean';
  parse(v: unknown, ctx: Ctx) {
    return typeof v === 'boolean' ? v : invalidType('boolean', v, ctx);
  }
}

class UnknownSchema extends Schema<unknown> {
  readonly type = 'unknown';
  parse(v: unknown) {
    return v;
  }
}

class ValueSchema<T> extends Schema<T> {
  readonly type: 'enum' | 'literal';
  constructor(
    readonly values: readonly T[],
    literal: boolean,
  ) {
    super();
    this.type = literal ? 'literal' : 'enum';
  }
  parse(v: unknown, ctx: Ctx) {
    if (this.values.includes(v as T)) return v;
    const list = this.values.map((x) => JSON.stringify(x));
    ctx.issues.push({
      code: 'invalid_value',
      values: [...this.values],
      path: [...ctx.path],
      message:
        this.type === 'literal' && list.length === 1
          ? `Invalid input: expected ${list[0]}`
          : `Invalid option: expected one of ${list.join('|')}`,
    });
    return undefined;
  }
}

class ArraySchema<E extends Schema> extends Schema<output<E>[], input<E>[]> {
  readonly type = 'array';
  constructor(readonly element: E) {
    super();
  }
  parse(v: unknown, ctx: Ctx) {
    if (!Array.isArray(v)) return invalidType('array', v, ctx);
    const out = v.map((x, i) => {
      ctx.path.push(i);
      const r = this.element.parse(x, ctx);
      ctx.path.pop();
      return r;
    });
    return this.checked(out, ctx);
  }
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

class RecordSchema<V extends Schema> extends Schema<Record<string, output<V>>, Record<string, input<V>>> {
  readonly type = 'record';
  constructor(readonly valueType: V) {
    super();
  }
  parse(v: unknown, ctx: Ctx) {
    if (!isPlain(v)) return invalidType('record', v, ctx);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      ctx.path.push(k);
      out[k] = this.valueType.parse(x, ctx);
      ctx.path.pop();
    }
    return out;
  }
}

type Shape = Readonly<Record<string, Schema>>;
type Flat<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<S extends Shape, Get extends 'o' | 'i'> = Flat<
  {
    [K in keyof S as undefined extends Pick_<S[K], Get> ? never : K]: Pick_<S[K], Get>;
  } & {
    [K in keyof S as undefined extends Pick_<S[K], Get> ? K : never]?: Pick_<S[K], Get>;
  }
>;
type Pick_<S, Get extends 'o' | 'i'> = Get extends 'o' ? output<S> : input<S>;

class ObjectSchema<S extends Shape> extends Schema<ObjectOf<S, 'o'>, ObjectOf<S, 'i'>> {
  readonly type = 'object';
  constructor(readonly shape: S) {
    super();
  }
  parse(v: unknown, ctx: Ctx) {
    if (!isPlain(v)) return invalidType('object', v, ctx);
    const out: Record<string, unknown> = {};
    for (const k in this.shape) {
      ctx.path.push(k);
      const r = this.shape[k]!.parse(v[k], ctx);
      ctx.path.pop();
      if (r !== undefined || k in v) out[k] = r;
    }
    const extra = Object.keys(v).filter((k) => !(k in this.shape));
    if (extra.length)
      ctx.issues.push({
        code: 'unrecognized_keys',
        keys: extra,
        path: [...ctx.path],
        message: `Unrecognized key${extra.length > 1 ? 's' : ''}: ${extra.map((k) => JSON.stringify(k)).join(', ')}`,
      });
    return out;
  }
}

class UnionSchema<S extends Schema> extends Schema<output<S>, input<S>> {
  readonly type = 'union';
  constructor(readonly options: readonly S[]) {
    super();
  }
  /**
   * The first option that takes `v`; else, as zod does, the problems of the one option whose type matched
   * (its only issues are soft: `70000` against [port, string] is 'must be 1-65535'), or invalid_union.
   */
  parse(v: unknown, ctx: Ctx) {
    const tried = this.options.map((o) => {
      const inner: Ctx = { issues: [], path: [...ctx.path] };
      return { value: o.parse(v, inner), issues: inner.issues };
    });
    const ok = tried.find((t) => t.issues.length === 0);
    if (ok) return ok.value;
    const typed = tried.filter((t) => t.issues.every((i) => SOFT.has(i)));
    if (typed.length === 1) {
      ctx.issues.push(...typed[0]!.issues);
      return typed[0]!.value;
    }
    ctx.issues.push({ code: 'invalid_union', path: [...ctx.path], message: 'Invalid input' });
    return undefined;
  }
}

class OptionalSchema<S extends Schema> extends Schema<output<S> | undefined, input<S> | undefined> {
  readonly type = 'optional';
  constructor(readonly innerType: S) {
    super();
  }
  parse(v: unknown, ctx: Ctx) {
    return v === undefined ? undefined : this.innerType.parse(v, ctx);
  }
}

class DefaultSchema<S extends Schema> extends Schema<output<S>, input<S> | undefined> {
  readonly type = 'default';
  constructor(
    readonly innerType: S,
    readonly value: output<S>,
  ) {
    super();
  }
  parse(v: unknown, ctx: Ctx) {
    return v !== undefined ? this.innerType.parse(v, ctx) : copy(this.value);
  }
}

/** A default's fresh copy, so that changing one output changes no other. */
function copy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copy);
  if (isPlain(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
  return v;
}

class CustomSchema<T> extends Schema<T> {
  readonly type = 'custom';
  constructor(
    readonly test: (v: unknown) => boolean,
    readonly message: string,
  ) {
    super();
  }
  parse(v: unknown, ctx: Ctx) {
    if (!this.test(v)) ctx.issues.push({ code: 'custom', path: [...ctx.path], message: this.message });
    return v;
  }
}

export const string = () => new StringSchema();
export const number = () => new NumberSchema();
export const boolean = () => new BooleanSchema();
export const unknown = () => new UnknownSchema();
export const literal = <const T extends string>(value: T) => new ValueSchema<T>([value], true);
const enum_ = <const T extends string>(values: readonly T[]) => new ValueSchema<T>(values, false);
export { enum_ as enum };
export const array = <E extends Schema>(element: E) => new ArraySchema(element);
export const record = <V extends Schema>(_key: StringSchema, value: V) => new RecordSchema(value);
export const strictObject = <S extends Shape>(shape: S) => new ObjectSchema(shape);
export const union = <const S extends readonly Schema[]>(options: S) => new UnionSchema<S[number]>(options);
export const optional = <S extends Schema>(inner: S) => new OptionalSchema(inner);
export const _default = <S extends Schema>(inner: S, value: output<S>) => new DefaultSchema(inner, value);
export const custom = <T>(test: (v: unknown) => boolean, params: { error: string }) =>
  new CustomSchema<T>(test, params.error);

export { ArraySchema, DefaultSchema, ObjectSchema, OptionalSchema, RecordSchema, UnionSchema, type Shape };

export { gte, int, lte, maxLength, minLength, regex } from './mini-checks.js';

/** zod's safeParse: the output, or every problem. */
export function safeParse<S extends Schema>(
  schema: S,
  value: unknown,
): { success: true; data: output<S> } | { success: false; error: { issues: Issue[] } } {
  const ctx: Ctx = { issues: [], path: [] };
  const data = schema.parse(value, ctx);
  return ctx.issues.length
    ? { success: false, error: { issues: ctx.issues } }
    : { success: true, data: data as output<S> };
}

/** zod's parse: the output, or throws. */
export function parse<S extends Schema>(schema: S, value: unknown): output<S> {
  const r = safeParse(schema, value);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

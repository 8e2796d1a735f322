import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mini from './mini-schema.js';
import * as zod from './zod.js';

/**
 * mini-schema is a stand-in for zod/mini (start-up cost): the same schema, built with each, must give the same
 * output and the same issues (code, path, message, and the fields strict.ts reads) for every input below.
 */
type Lib = typeof mini;

/** Every construct podnet's schemas use, nested as they are in schema.ts and service-manifest.ts. */
const build = (z: Lib) => {
  const label = () =>
    z.string().check(z.maxLength(6, 'must be at most 6 characters'), z.regex(/^[a-z]+$/, 'must be a label'));
  const port = () => z.number().check(z.int(), z.gte(1, 'must be 1-65535'), z.lte(65535, 'must be 1-65535'));
  return z.strictObject({
    apiVersion: z.literal('v1'),
    name: label(),
    count: z._default(z.number().check(z.int(), z.gte(1), z.lte(10)), 3),
    mode: z._default(z.enum(['a', 'b']), 'a'),
    flag: z._default(z.boolean(), true),
    note: z.optional(z.string()),
    anything: z.optional(z.unknown()),
    labels: z._default(z.record(z.string(), z.string()), {}),
    list: z.array(z.string()).check(z.minLength(1, 'needs one'), z.maxLength(2, 'holds at most 2')),
    target: z.optional(z.union([port(), z.string()])),
    refused: z.optional(
      z.custom<unknown>((v) => v === undefined || v === false, { error: 'is not supported' }),
    ),
    inner: z._default(
      z.strictObject({
        port: z._default(port(), 80),
        items: z._default(z.array(z.strictObject({ n: label() })), []),
      }),
      { port: 80, items: [] },
    ),
  });
};

const ok = { apiVersion: 'v1', name: 'web', list: ['x'] };
const inputs: unknown[] = [
  ok,
  { ...ok, count: 10, mode: 'b', flag: false, note: 'n', anything: [1], labels: { a: 'b' }, target: 'http' },
  { ...ok, target: 8080, refused: false, inner: { port: 1, items: [{ n: 'a' }] } },
  {},
  null,
  [],
  'text',
  42,
  { ...ok, apiVersion: 'v2', kind: 'Pod' },
  { ...ok, name: 'Way-Too-Long' },
  { ...ok, name: 'ABC' },
  { ...ok, name: 7 },
  { ...ok, count: 0 },
  { ...ok, count: 11 },
  { ...ok, count: 0.5 },
  { ...ok, count: 2.5 },
  { ...ok, count: 1e20 },
  { ...ok, count: -1e20 },
  { ...ok, count: Number.NaN },
  { ...ok, count: Number.POSITIVE_INFINITY },
  { ...ok, count: '3' },
  { ...ok, mode: 'c' },
  { ...ok, mode: null },
  { ...ok, flag: 'yes' },
  { ...ok, labels: { a: 1, b: 'x', c: null } },
  { ...ok, labels: ['a'] },
  { ...ok, labels: 'a=b' },
  { ...ok, list: [] },
  { ...ok, list: ['a', 'b', 'c'] },
  { ...ok, list: [1, 'b', 'c'] },
  { ...ok, list: 'x' },
  { ...ok, target: true },
  { ...ok, target: 70000 },
  { ...ok, refused: 'x' },
  { ...ok, refused: false },
  { ...ok, inner: null },
  { ...ok, inner: { port: 0, extra: 1, items: [{ n: 'A', m: 1 }, 'x'] } },
  { ...ok, zz: 1, aa: 2 },
  { ...ok, nmae: 'x', name: undefined },
];

const shapeOf = (issues: readonly Record<string, unknown>[]) =>
  issues.map((i) => ({
    code: i.code,
    path: i.path,
    message: i.message,
    ...(i.expected !== undefined ? { expected: i.expected } : {}),
    ...(i.values !== undefined ? { values: i.values } : {}),
    ...(i.keys !== undefined ? { keys: i.keys } : {}),
  }));

test('mini-schema gives the output and issues zod/mini gives, input by input', () => {
  const a = build(mini);
  const b = build(zod as unknown as Lib);
  for (const input of inputs) {
    const m = mini.safeParse(a, input);
    const z = zod.safeParse(b as never, input);
    const what = JSON.stringify(input);
    assert.equal(m.success, z.success, `success for ${what}`);
    if (m.success && z.success) assert.deepEqual(m.data, z.data, `output for ${what}`);
    if (!m.success && !z.success)
      assert.deepEqual(
        shapeOf(m.error.issues as never),
        shapeOf(z.error.issues as never),
        `issues for ${what}`,
      );
  }
});

test('defaults are copies: changing one output leaves the next parse alone', () => {
  const s = build(mini);
  const first = mini.parse(s, ok);
  first.labels.x = 'y';
  first.inner.items.push({ n: 'z' });
  const second = mini.parse(s, ok);
  assert.deepEqual(second.labels, {});
  assert.deepEqual(second.inner.items, []);
});

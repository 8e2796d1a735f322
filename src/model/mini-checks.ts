import type { Check } from './mini-schema.js';

/**
 * The checks of mini-schema.ts (zod's `.check(...)` arguments) with zod's issue codes and English messages:
 * lengths and bounds, patterns, integers.
 */

/** What a check of a string, number or array measures, for zod's wording. */
const measured = (v: unknown) =>
  typeof v === 'string'
    ? { origin: 'string', size: v.length, unit: ' characters' }
    : Array.isArray(v)
      ? { origin: 'array', size: v.length, unit: ' items' }
      : { origin: 'number', size: v as number, unit: '' };

function bound(code: 'too_big' | 'too_small', limit: number, message?: string): Check {
  const big = code === 'too_big';
  return {
    run: (v: unknown) => {
      const m = measured(v);
      if (big ? m.size <= limit : m.size >= limit) return undefined;
      const rel = `${big ? '<=' : '>='}${limit}${m.unit}`;
      const wording = m.origin === 'number' ? `to be ${rel}` : `to have ${rel}`;
      return {
        code,
        path: [],
        message: message ?? `Too ${big ? 'big' : 'small'}: expected ${m.origin} ${wording}`,
      };
    },
  };
}

export const maxLength = (n: number, message?: string) => bound('too_big', n, message);
export const minLength = (n: number, message?: string) => bound('too_small', n, message);
export const lte = (n: number, message?: string) => bound('too_big', n, message);
export const gte = (n: number, message?: string) => bound('too_small', n, message);

export const regex = (re: RegExp, message?: string): Check => ({
  run: (v: string) =>
    re.test(v)
      ? undefined
      : { code: 'invalid_format', path: [], message: message ?? `Invalid string: must match pattern ${re}` },
});

/**
 * A safe integer (zod's z.int() as a check): a non-integer is an invalid_type expecting 'int', and no check
 * after it runs; an integer beyond 2^53 is too big or too small.
 */
export const int = (): Check => ({
  run: (v: number) => {
    if (!Number.isInteger(v))
      return {
        code: 'invalid_type',
        expected: 'int',
        path: [],
        message: 'Invalid input: expected int, received number',
        abort: true,
      };
    if (Number.isSafeInteger(v)) return undefined;
    return v > 0
      ? { code: 'too_big', path: [], message: `Too big: expected int to be <${Number.MAX_SAFE_INTEGER}` }
      : { code: 'too_small', path: [], message: `Too small: expected int to be >${Number.MIN_SAFE_INTEGER}` };
  },
});

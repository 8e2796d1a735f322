import type { ConfigIssue } from '../../errors.js';
import { suggest } from '../strict.js';
import type { LabelSelector, SelectorRequirement } from './types.js';

/** Whether labels satisfy a selector: every matchLabels pair and every expression (an empty selector: all). */
export function matches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  return sel.matchExpressions.every((e) => requirementHolds(e, labels));
}

function requirementHolds(e: SelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, e.key);
  switch (e.operator) {
    case 'In':
      return has && e.values.includes(labels[e.key]!);
    case 'NotIn':
      return !has || !e.values.includes(labels[e.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** The selector as kubectl prints it: `app=web,tier in (a,b),!debug`; `(all)` when empty. */
export function formatSelector(sel: LabelSelector): string {
  const parts = [
    ...Object.entries(sel.matchLabels).map(([k, v]) => `${k}=${v}`),
    ...sel.matchExpressions.map((e) =>
      e.operator === 'Exists'
        ? e.key
        : e.operator === 'DoesNotExist'
          ? `!${e.key}`
          : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${e.values.join(',')})`,
    ),
  ];
  return parts.length ? parts.join(',') : '(all)';
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes' rule for a label key (`[prefix/]name`); undefined when valid. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !SUBDOMAIN.test(prefix)))
    return 'has a prefix that is not a DNS subdomain (lower-case, at most 253 characters)';
  if (name.length === 0 || name.length > 63 || !NAME.test(name))
    return 'must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit (optionally prefixed "example.com/")';
  return undefined;
}

/** Kubernetes' rule for a label value (may be empty); undefined when valid. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value))
    return 'must be empty or at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  return undefined;
}

type Doc = Record<string, unknown>;
const isObj = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v);

/** Checks a labels map (`metadata.labels`, `matchLabels`); returns it when valid. */
export function parseLabels(
  v: unknown,
  path: string,
  issues: ConfigIssue[],
): Record<string, string> | undefined {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    issues.push({ path, message: `${show(v)} must be a mapping of label keys to string values` });
    return undefined;
  }
  const before = issues.length;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    const kp = labelKeyProblem(k);
    if (kp) issues.push({ path: `${path}.${k}`, message: `key ${show(k)} ${kp}` });
    if (typeof val !== 'string') {
      issues.push({ path: `${path}.${k}`, message: `${show(val)} must be a string`, hint: 'quote it' });
      continue;
    }
    const vp = labelValueProblem(val);
    if (vp) issues.push({ path: `${path}.${k}`, message: `${show(val)} ${vp}` });
    out[k] = val;
  }
  return issues.length > before ? undefined : out;
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Parses a `metav1.LabelSelector` strictly; undefined input (absent) is undefined, `{}` selects all. */
export function parseSelector(v: unknown, path: string, issues: ConfigIssue[]): LabelSelector | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    issues.push({ path, message: `${show(v)} must be a label selector (matchLabels, matchExpressions)` });
    return undefined;
  }
  const before = issues.length;
  unknownFields(v, ['matchLabels', 'matchExpressions'], path, issues);
  const matchLabels = parseLabels(v.matchLabels, `${path}.matchLabels`, issues) ?? {};
  const matchExpressions: SelectorRequirement[] = [];
  if (v.matchExpressions !== undefined && v.matchExpressions !== null) {
    if (!Array.isArray(v.matchExpressions))
      issues.push({
        path: `${path}.matchExpressions`,
        message: `${show(v.matchExpressions)} must be a list`,
      });
    else
      v.matchExpressions.forEach((e: unknown, i: number) => {
        const at = `${path}.matchExpressions[${i}]`;
        if (!isObj(e)) {
          issues.push({ path: at, message: `${show(e)} must be a mapping with key, operator, values` });
          return;
        }
        unknownFields(e, ['key', 'operator', 'values'], at, issues);
        const key = e.key;
        if (typeof key !== 'string')
          issues.push({ path: `${at}.key`, message: `${show(key)} must be a label key` });
        else {
          const kp = labelKeyProblem(key);
          if (kp) issues.push({ path: `${at}.key`, message: `${show(key)} ${kp}` });
        }
        const op = e.operator;
        if (!OPERATORS.includes(op as (typeof OPERATORS)[number]))
          issues.push({
            path: `${at}.operator`,
            message: `${show(op)} is not a selector operator`,
            hint: `one of ${OPERATORS.join(', ')}`,
          });
        let values: string[] = [];
        if (e.values !== undefined && e.values !== null) {
          if (!Array.isArray(e.values) || e.values.some((x) => typeof x !== 'string'))
            issues.push({ path: `${at}.values`, message: `${show(e.values)} must be a list of strings` });
          else {
            values = e.values as string[];
            values.forEach((x, j) => {
              const vp = labelValueProblem(x);
              if (vp) issues.push({ path: `${at}.values[${j}]`, message: `${show(x)} ${vp}` });
            });
          }
        }
        if ((op === 'In' || op === 'NotIn') && values.length === 0)
          issues.push({ path: `${at}.values`, message: `must be non-empty when operator is ${op}` });
        if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
          issues.push({ path: `${at}.values`, message: `must be empty when operator is ${op}` });
        if (typeof key === 'string' && OPERATORS.includes(op as (typeof OPERATORS)[number]))
          matchExpressions.push({ key, operator: op as SelectorRequirement['operator'], values });
      });
  }
  return issues.length > before ? undefined : { matchLabels, matchExpressions };
}

/** Reports each field not in `known` at its own path, with a "did you mean" (kubectl --validate=strict). */
export function unknownFields(v: Doc, known: readonly string[], path: string, issues: ConfigIssue[]): void {
  for (const k of Object.keys(v).filter((x) => !known.includes(x))) {
    const near = suggest(k, known);
    issues.push({
      path: !path || path.endsWith(' ') ? `${path}${k}` : `${path}.${k}`,
      atKey: true,
      message: `unknown field${near ? `; did you mean '${near}'?` : ''}`,
      hint: `allowed here: ${known.join(', ')}`,
    });
  }
}

import type { ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.js';
import { LAB_NAME } from '../lab/names.js';

/** The flags a command's parser accepts: node:util parseArgs options, unchanged. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** What a handler gets: the parsed flags, the words, and (for commands that take one) the argv after `--`. */
export interface Invocation<O extends Options> {
  readonly values: ParsedValues<O>;
  readonly positionals: readonly string[];
  readonly tail: readonly string[];
}

/** parseArgs' `values` for the options O (strings, booleans, arrays when `multiple`). */
export type ParsedValues<O extends Options> = {
  -readonly [K in keyof O]: O[K] extends { multiple: true }
    ? O[K]['type'] extends 'boolean'
      ? boolean[]
      : string[]
    : O[K]['type'] extends 'boolean'
      ? O[K] extends { default: boolean }
        ? boolean
        : boolean | undefined
      : O[K] extends { default: string }
        ? string
        : string | undefined;
};

/**
 * One CLI command: a row of the command table (src/cli/commands/index.ts). It owns its flags, its `--help`
 * text and its handler; the handler imports what it needs lazily, so start-up loads only the table.
 * A unit test checks that `help` names every flag in `options`, and docs/lab.md documents them.
 */
export interface Command<O extends Options = Options> {
  /** The words that select it, e.g. `lab up`. */
  readonly name: string;
  /** One line for `podnet help` and the group's listing. */
  readonly summary: string;
  /** The synopsis and one line per flag (written for people: `podnet lab up --help` prints it). */
  readonly help: string;
  readonly options: O;
  /** Takes words after its name (`lab exec POD`); otherwise any word is a usage error. */
  readonly positionals?: boolean;
  /** Takes a command after `--` (`lab exec POD -- CMD...`). */
  readonly dashdash?: boolean;
  run(inv: Invocation<O>): Promise<number>;
}

/** Gives a table row its precise types (values typed from its options) and erases them for the table. */
export function defineCommand<const O extends Options>(c: Command<O>): Command {
  return c as unknown as Command;
}

/** Usage errors are ConfigErrors of the command line: exit 2 with every problem listed. */
export function usage(message: string, hint?: string): never {
  throw new ConfigError([{ path: 'command line', message, ...(hint ? { hint } : {}) }], 'command line');
}

/** `--name LAB`: every lab command's first flag. */
export const NAME_FLAG = { name: { type: 'string', default: 'podnet' } } as const;
export const NAME_HELP =
  '  --name LAB          the lab, and the prefix of everything it creates (default: podnet; 1-12 lower-case letters and digits)';

/** The lab name from `--name`, checked (it prefixes every namespace, so it must be a safe short word). */
export function labName(name: string): string {
  if (!LAB_NAME.test(name))
    usage(
      `--name '${name}' is not allowed: use 1-12 lower-case letters and digits, starting with a letter (it prefixes every namespace)`,
    );
  return name;
}

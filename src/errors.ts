/**
 * The project's error vocabulary. Callers branch on the class (or `code`), never on message text.
 * Messages say what is wrong, which value, and what is allowed (docs/errors.md lists every code).
 */
export abstract class PodnetError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in user input: where it is, what is wrong, and optionally how to fix it. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
  /** Where in the user's file (1-based), when the parser knows. */
  readonly line?: number;
  readonly column?: number;
  /** Locate the issue at its path's key rather than its value (an unknown field is its key). */
  readonly atKey?: boolean;
}

/** `path (line 3, column 5): message (hint: …)`, one problem as ConfigError lists it. */
export function formatIssue(i: ConfigIssue): string {
  const at =
    i.line !== undefined ? ` (line ${i.line}${i.column !== undefined ? `, column ${i.column}` : ''})` : '';
  return `${i.path}${at}: ${i.message}${i.hint ? ` (hint: ${i.hint})` : ''}`;
}

/** Bad input. Lists every problem at once; nothing has been changed when it is thrown. */
export class ConfigError extends PodnetError {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly issues: readonly ConfigIssue[],
    source = 'cluster spec',
  ) {
    super(
      `${source} has ${issues.length} problem(s):\n` + issues.map((i) => `  - ${formatIssue(i)}`).join('\n'),
    );
  }
}

/** The input is valid but cannot be realized (an exhausted subnet, a mode the topology does not fit). */
export class PlanError extends PodnetError {
  readonly code = 'PLAN_FAILED';
}

/** The machine lacks something podnet needs (a kernel feature, a tool, root). */
export class UnsupportedError extends PodnetError {
  readonly code = 'UNSUPPORTED';
}

/** A lab or other piece of state is in the way, or missing. */
export class StateError extends PodnetError {
  readonly code = 'STATE_CONFLICT';
}

/** A spawned command exited non-zero. */
export class CommandError extends PodnetError {
  readonly code = 'COMMAND_FAILED';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
    readonly stdin?: string,
  ) {
    const line = stderr.trim().split('\n').slice(-3).join(' | ');
    super(`command failed (exit ${exitCode}): ${argv.join(' ')}${line ? `: ${line}` : ''}`);
  }
}

/**
 * The kernel refused a netlink request (the CNI plugin's in-process path). `errno` is the kernel's answer;
 * `request` is the equivalent `ip` command, so the message reads like iproute2's own.
 */
export class KernelError extends PodnetError {
  readonly code = 'KERNEL_REFUSED';
  constructor(
    readonly request: string,
    readonly errno: number,
    readonly reason: string,
    /** How the tool would say it: `RTNETLINK answers` (ip), `Netlink error` (nft). */
    answers = 'RTNETLINK answers',
  ) {
    super(`${request}: ${answers}: ${reason}`);
  }
}

/** Wraps the CommandError of the step that failed while applying a plan. */
export class ApplyError extends PodnetError {
  readonly code = 'APPLY_FAILED';
  constructor(
    readonly step: string,
    readonly index: number,
    readonly total: number,
    options: ErrorOptions,
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`step ${index + 1}/${total} (${step}) failed: ${cause}`, options);
  }
}

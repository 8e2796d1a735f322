import { CommandError } from '../errors.js';
import type { Command, CommandResult, Runner } from './runner.js';
import { formatCommand } from './shell-quote.js';

/** One scripted answer for FakeRunner: the command expected (as formatted text) and what it returns. */
export interface FakeCall {
  readonly expect: string;
  readonly result?: Partial<CommandResult>;
}

/**
 * A runner for unit tests. Without a script it records every command and succeeds; with a script it checks
 * each command against the next expected one and fails on a mismatch or when it runs out of commands.
 */
export class FakeRunner implements Runner {
  readonly calls: Command[] = [];
  private nextPid = 4242;

  constructor(private readonly script?: FakeCall[]) {}

  async run(cmd: Command): Promise<CommandResult> {
    this.calls.push(cmd);
    const text = formatCommand(cmd);
    let result: Partial<CommandResult> = {};
    if (this.script) {
      const next = this.script.shift();
      if (!next) throw new Error(`fake runner ran out of commands at: ${text}`);
      if (next.expect !== text) throw new Error(`fake runner expected:\n  ${next.expect}\ngot:\n  ${text}`);
      result = next.result ?? {};
    }
    const full: CommandResult = {
      stdout: '',
      stderr: '',
      exitCode: 0,
      ...(cmd.daemon ? { pid: this.nextPid++ } : {}),
      ...result,
    };
    if (full.exitCode !== 0)
      throw new CommandError(cmd.argv.map(String), full.exitCode, full.stderr, cmd.stdin);
    return full;
  }

  /** Throws when scripted commands never ran. */
  assertDone(): void {
    if (this.script && this.script.length > 0) {
      throw new Error(
        `fake runner: ${this.script.length} expected command(s) never ran: ${this.script[0]!.expect}`,
      );
    }
  }

  /** Every command as text, one per line. */
  text(): string {
    return this.calls.map(formatCommand).join('\n');
  }
}

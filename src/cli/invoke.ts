import { parseArgs } from 'node:util';
import { ConfigError, PodnetError } from '../errors.js';
import { type Command, usage } from './command.js';
import { directConsole, errorPrefix } from './tty.js';

/**
 * What every entry point shares (the CLI's, and the agent's own bundle): errors printed once with the exit
 * code they mean, and one command's flags parsed strictly before its handler runs.
 */

/** Runs `run` and sets the exit code: 0 ok, 1 failure, 2 bad input, or what `run` returned. */
export async function frontDoor(
  argv: string[],
  run: (argv: readonly string[]) => Promise<number>,
): Promise<void> {
  directConsole();
  const debug = argv.includes('--debug');
  try {
    process.exitCode = await run(argv.filter((a) => a !== '--debug'));
  } catch (err) {
    if (debug) console.error(err);
    else console.error(`${errorPrefix()} ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
    if (!(err instanceof PodnetError) && !debug)
      console.error('(unexpected error: run with --debug for the stack trace)');
  }
}

/** Parses `args` (the words after the command's name) with the command's own flags, then runs it. */
export async function invoke(
  command: Command,
  args: readonly string[],
  tail: readonly string[],
  dashdash: boolean,
): Promise<number> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    return usage((e as Error).message, `see podnet ${command.name} --help`);
  }
  if (!command.positionals && parsed.positionals.length)
    usage(`unexpected '${parsed.positionals.join(' ')}'`, `see podnet ${command.name} --help`);
  if (!command.dashdash && dashdash)
    usage(`'podnet ${command.name}' takes no command after --`, `see podnet ${command.name} --help`);
  return command.run({ values: parsed.values as never, positionals: parsed.positionals, tail });
}

import { type Command, usage } from './command.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { alignFlags, groupHelp, subcommands, topHelp } from './help.js';
import { frontDoor, invoke } from './invoke.js';

/**
 * The CLI's front door: finds the command in the table (src/cli/commands/index.ts), parses its own flags and
 * runs it. Exit codes: 0 ok, 1 failure, 2 bad input, 3 verify found broken paths (the command's own).
 */
export async function main(argv: string[]): Promise<void> {
  return frontDoor(argv, run);
}

/** Whether `key` (words joined by '-', or `help`) names a command or group: bin/podnet.js caches only those. */
export function knownCommand(key: string): boolean {
  if (key === 'help') return true;
  const words = key.split('-');
  return lookup(words).used === words.length;
}

/** The longest command or group whose words begin `words`. */
function lookup(words: readonly string[]): { command?: Command; group?: string; used: number } {
  const starts = (name: string) => name.split(' ').every((w, i) => words[i] === w);
  const command = COMMANDS.filter((c) => starts(c.name)).sort((a, b) => b.name.length - a.name.length)[0];
  if (command) return { command, used: command.name.split(' ').length };
  const group = Object.keys(GROUPS)
    .filter(starts)
    .sort((a, b) => b.length - a.length)[0];
  return group ? { group, used: group.split(' ').length } : { used: 0 };
}

/** `podnet help [WORDS…]`: the text for a command, a group, or everything. */
export function helpFor(words: readonly string[]): string {
  const { command, group, used } = lookup(words);
  if (used < words.length) usage(`no command '${words.join(' ')}'`, 'see podnet help');
  if (command) return alignFlags(command.help);
  if (group) return groupHelp(group, GROUPS[group]!, COMMANDS);
  return topHelp(COMMANDS, GROUPS);
}

async function run(argv: readonly string[]): Promise<number> {
  const dashdash = argv.indexOf('--');
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const tail = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const wantsHelp = own.includes('--help') || own.includes('-h');
  if (own[0] === 'help') {
    console.log(helpFor(own.slice(1).filter((w) => !w.startsWith('-'))));
    return 0;
  }
  if (own[0] === '--version') return run(['version']);
  const { command, group, used } = lookup(own);
  if (!command) {
    if (wantsHelp || own.length === 0) {
      console.log(helpFor(own.slice(0, used)));
      return 0;
    }
    if (group)
      usage(
        `unknown ${group} command '${own[used] ?? ''}'; one of: ${subcommands(group, COMMANDS).join(', ')}`,
        `see podnet ${group} --help`,
      );
    usage(`unknown command '${own[0]}'`, 'see podnet help');
  }
  if (wantsHelp) {
    console.log(alignFlags(command.help));
    return 0;
  }
  return invoke(command, own.slice(used), tail, dashdash >= 0);
}

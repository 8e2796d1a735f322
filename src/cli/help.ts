import type { Command } from './command.js';

/** The help texts of `podnet help`, `podnet GROUP --help` and `podnet COMMAND --help`, built from the table. */

const HEADER = `podnet: Kubernetes pod networking from plain Linux primitives

usage: podnet COMMAND [flags]   ('podnet COMMAND --help' lists a command's flags)`;

const FOOTER = `global flags:
  -h, --help   this text, or a command's or group's own
  --debug      print stack traces of errors

exit codes: 0 ok, 1 failure, 2 bad input (nothing was changed), 3 verify found broken paths`;

function listing(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return commands.map((c) => `  podnet ${c.name.padEnd(width)}${c.summary}`).join('\n');
}

/** Everything: each group's commands under the group's line. */
export function topHelp(commands: readonly Command[], groups: Readonly<Record<string, string>>): string {
  const tops = Object.keys(groups).filter((g) => !g.includes(' '));
  const sections = tops.map(
    (g) => `${g}: ${groups[g]}\n${listing(commands.filter((c) => c.name.startsWith(`${g} `)))}`,
  );
  const loose = commands.filter((c) => !tops.some((g) => c.name.startsWith(`${g} `)));
  return `${HEADER}\n\n${sections.join('\n\n')}\n\n${listing(loose)}\n\n${FOOTER}`;
}

/** One group (`lab`, `lab service`): its line and its commands. */
export function groupHelp(group: string, summary: string, commands: readonly Command[]): string {
  const members = commands.filter((c) => c.name.startsWith(`${group} `));
  return `podnet ${group}: ${summary}\n\n${listing(members)}\n\n('podnet ${group} COMMAND --help' lists a command's flags)`;
}

/** The words after `group` that name its commands (`up`, `down`, … for `lab`), for usage errors. */
export function subcommands(group: string, commands: readonly Command[]): string[] {
  const depth = group.split(' ').length;
  const words = commands.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.split(' ')[depth]!);
  return [...new Set(words)];
}

/** Lines the flags up: each `  -x, --flag ARG   text` line gets its text in one column. */
export function alignFlags(help: string): string {
  const lines = help.split('\n');
  const rows = lines.map((l) => /^ {2}(-\S.*?) {2,}(\S.*)$/.exec(l));
  const width = Math.max(0, ...rows.map((m) => (m ? m[1]!.length : 0)));
  return lines.map((l, i) => (rows[i] ? `  ${rows[i]![1]!.padEnd(width)}  ${rows[i]![2]}` : l)).join('\n');
}

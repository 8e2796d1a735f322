import { type Arg, type Command, isVarRef } from './runner.js';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for a POSIX shell (for printing only: podnet never runs a shell). */
export function quote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function quoteArg(a: Arg): string {
  if (!isVarRef(a)) return quote(a);
  return `"${a.before ?? ''}$${a.var}${a.after ?? ''}"`;
}

/**
 * One command as a line (or heredoc) that can be pasted into a shell: the dry-run and golden format.
 * Daemons get `&` and their PID is captured into the named variable, as the seed does by hand.
 */
export function formatCommand(cmd: Command): string {
  let line = cmd.argv.map(quoteArg).join(' ');
  if (cmd.daemon) line += ` >${quote(cmd.daemon.log)} 2>&1 &`;
  if (cmd.stdin !== undefined) {
    let tag = 'EOF';
    while (cmd.stdin.includes(tag)) tag += '_';
    const body = cmd.stdin.endsWith('\n') ? cmd.stdin : `${cmd.stdin}\n`;
    line += ` <<'${tag}'\n${body}${tag}`;
  }
  if (cmd.daemon?.pidVar) line += `\n${cmd.daemon.pidVar}=$!`;
  if (cmd.daemon?.pidVar && cmd.daemon.newNetns) {
    // unshare(2) runs a moment after the process starts: until then its namespaces are still ours, and naming
    // or entering "them" would change the host. The process runner waits the same way (leftOurNetns).
    const v = cmd.daemon.pidVar;
    line +=
      `\n# wait until it has its own namespaces (until then /proc/$${v}/ns/net is still ours)` +
      `\nuntil [ "$(readlink /proc/$${v}/ns/net)" != "$(readlink /proc/$$/ns/net)" ]; do sleep 0.01; done`;
  }
  return line;
}

import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The prefixes benches give what they create (namespaces, temporary directories): this process's own. */
export const benchPrefixes = (pid = process.pid): string[] => [`pb${pid.toString(36)}`, `pb${pid % 100000}`];

/** The names that carry one of `prefixes` followed by '-'. */
export const ours = (names: readonly string[], prefixes: readonly string[]): string[] =>
  names.filter((n) => prefixes.some((p) => n.startsWith(`${p}-`)));

const ip = (args: string[]): string => {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};

/**
 * Removes what this bench process made, for when a signal stops it and its finally blocks never run: the
 * processes inside its namespaces (servers the bench started there), the namespaces, its temporary directories.
 * Labs a bench brings up are not covered: `podnet lab down` removes those.
 */
export function removeLeftovers(prefixes: readonly string[] = benchPrefixes()): string[] {
  const namespaces = ours(
    ip(['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean),
    prefixes,
  );
  for (const ns of namespaces) {
    for (const pid of ip(['netns', 'pids', ns]).split('\n').filter(Boolean))
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    ip(['netns', 'del', ns]);
  }
  const dirs = ours(readdirSync(tmpdir()), prefixes);
  for (const d of dirs) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  return [...namespaces, ...dirs];
}

/**
 * On SIGINT or SIGTERM: `onStop`, then removeLeftovers, a line on stderr naming what was removed, and exit 130 or
 * 143.
 */
export function removeLeftoversOnSignal(what: string, onStop: () => void = () => {}): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      onStop();
      const removed = removeLeftovers();
      console.error(`${what}: stopped by ${sig}; removed ${removed.length ? removed.join(', ') : 'nothing'}`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
}

import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/**
 * Reading processes and namespaces from /proc. podnet only ever signals processes it can prove it started:
 * a PID from its journal whose start time still matches.
 */

/**
 * The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot), or undefined if gone.
 * A zombie counts as gone: it has exited and only waits to be reaped (a slow reaper kept them for seconds).
 */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' || rest[0] === 'X' ? undefined : rest[19];
  } catch {
    return undefined;
  }
}

/** The inode of one of a process's namespaces, e.g. `net:[4026532321]`, or undefined if gone. */
export function nsOf(
  pid: number | 'self',
  kind: 'net' | 'pid' | 'pid_for_children' | 'uts' | 'mnt' | 'ipc',
): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

/** The direct children of a process. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every process whose PID namespace is `pidNs` (as returned by nsOf(pid, 'pid')). */
export function processesInPidNs(pidNs: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if (nsOf(Number(e), 'pid') === pidNs) out.push(Number(e));
  }
  return out;
}

/** The command line of a process, as argv. */
export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Names of the network namespaces in /run/netns (what `ip netns list` shows). */
export function listNamedNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** TCP ports in LISTEN state in the network namespace of `pid` (read from /proc/PID/net/tcp and tcp6). */
export function listeningTcpPorts(pid: number): Set<number> {
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    try {
      for (const line of readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A') ports.add(Number.parseInt(f[1]!.split(':').pop()!, 16));
      }
    } catch {}
  }
  return ports;
}

/** The namespace id (as in `net:[ID]`) of a named network namespace, or undefined. */
export function netnsIdOf(name: string): string | undefined {
  try {
    return `net:[${statSync(`/run/netns/${name}`).ino}]`;
  } catch {
    return undefined;
  }
}

/** Every process inside one of the given network namespaces (ids as returned by netnsIdOf). */
export function processesInNetns(ids: ReadonlySet<string>): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const net = nsOf(Number(e), 'net');
    if (net && ids.has(net)) out.push(Number(e));
  }
  return out;
}

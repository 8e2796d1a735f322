import type { Arg } from '../exec/runner.js';
import type { Netns } from '../plan/ops.js';

/**
 * Wrapping commands so they act inside a network namespace. podnet never calls setns() from Node: a Node
 * process is multi-threaded and setns only moves the calling thread (see README.md in this folder). Instead
 * every command names its namespace on its own command line.
 */

/** `ip` in a namespace: `ip -n NAME …` for named namespaces, `nsenter --net=PATH ip …` for paths. */
export function ipIn(ns: Netns, ...args: Arg[]): [Arg, ...Arg[]] {
  switch (ns.kind) {
    case 'host':
      return ['ip', ...args];
    case 'named':
      return ['ip', '-n', ns.name, ...args];
    case 'path':
      return ['nsenter', `--net=${ns.path}`, 'ip', ...args];
  }
}

/** `bridge` in a namespace (iproute2's bridge tool takes -n like ip). */
export function bridgeIn(ns: Netns, ...args: Arg[]): [Arg, ...Arg[]] {
  switch (ns.kind) {
    case 'host':
      return ['bridge', ...args];
    case 'named':
      return ['bridge', '-n', ns.name, ...args];
    case 'path':
      return ['nsenter', `--net=${ns.path}`, 'bridge', ...args];
  }
}

/** Any other tool in a namespace: `ip netns exec NAME …`, or `nsenter --net=PATH …`. */
export function execIn(ns: Netns, tool: string, ...args: Arg[]): [Arg, ...Arg[]] {
  switch (ns.kind) {
    case 'host':
      return [tool, ...args];
    case 'named':
      return ['ip', 'netns', 'exec', ns.name, tool, ...args];
    case 'path':
      return ['nsenter', `--net=${ns.path}`, tool, ...args];
  }
}

/** The prefix that runs a lab daemon or tool inside a named namespace: `ip netns exec NAME`. */
export function netnsExec(name: string): ['ip', 'netns', 'exec', string] {
  return ['ip', 'netns', 'exec', name];
}

/** `ip -n NAME …` as plain strings, for reads that run through `exec` and look at the exit code themselves. */
export function ipArgv(name: string, ...args: string[]): string[] {
  return ['ip', '-n', name, ...args];
}

/** `bridge -n NAME …` as plain strings (see ipArgv). */
export function bridgeArgv(name: string, ...args: string[]): string[] {
  return ['bridge', '-n', name, ...args];
}

/**
 * A tool in a namespace by nsenter alone: for named namespaces `nsenter --net=/run/netns/NAME …`, which skips
 * what `ip netns exec` adds (a mount namespace, /sys remounted) and which tools reading only netlink (nft,
 * conntrack) do not need. Used on the NetworkPolicy sync path, where each process start is on the clock.
 */
export function netIn(ns: Netns, tool: string, ...args: Arg[]): [Arg, ...Arg[]] {
  if (ns.kind === 'named') return ['nsenter', `--net=/run/netns/${ns.name}`, tool, ...args];
  return execIn(ns, tool, ...args);
}

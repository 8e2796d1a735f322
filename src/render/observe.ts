import type { Command } from '../exec/runner.js';
import { ROUTE_PROTO } from '../plan/node/model.js';
import type { Netns } from '../plan/ops.js';
import { NFT } from '../plan/services/nftables.js';
import { bridgeIn, execIn, ipIn } from './netns.js';

/**
 * The read-only commands observe runs to see one node's podnet objects (docs/kernel-objects.md). Reads are
 * commands like any other, so a dry run can print them and a test can count them.
 */

/** One `ip -j -d -batch -`: links (with details), addresses, podnet's routes, permanent neighbours. */
export function readIpState(ns: Netns): Command {
  return {
    argv: ipIn(ns, '-j', '-d', '-batch', '-'),
    stdin: `link show\naddr show\nroute show table main proto ${ROUTE_PROTO}\nneigh show nud permanent\n`,
    note: 'observe: links, addresses, podnet routes, permanent neighbours',
  };
}

export const readFdb = (ns: Netns, dev: string): Command => ({
  argv: bridgeIn(ns, '-j', 'fdb', 'show', 'dev', dev),
  note: `observe: FDB entries of ${dev}`,
});

export const readSysctls = (ns: Netns, keys: readonly string[]): Command => ({
  argv: execIn(ns, 'sysctl', ...keys),
  note: 'observe: the sysctls podnet sets',
});

export const readNftTable = (ns: Netns): Command => ({
  argv: execIn(ns, 'nft', '-j', 'list', 'table', NFT.family, NFT.table),
  note: `observe: table ${NFT.family} ${NFT.table}`,
});

export const readIptables = (ns: Netns, table: 'nat' | 'filter'): Command => ({
  argv: execIn(ns, 'iptables-save', '-t', table),
  note: `observe: iptables ${table} table`,
});

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Runner } from '../exec/runner.js';
import type { Netns } from '../plan/ops.js';
import { execIn } from '../render/netns.js';

/** A node's uplink as the kernel has it: its first IPv4 address (with prefix) and MTU. */
export interface UplinkState {
  readonly ip: string;
  readonly prefix: number;
  readonly mtu: number;
}

/**
 * Reads `iface`; undefined when it does not exist or has no IPv4 address. In this process's own namespace it
 * asks the kernel directly (getifaddrs, /sys/class/net: no process started, the agent's start-up is shorter);
 * otherwise, or when that fails, `ip -j -4 addr show dev IF`.
 */
export async function observeUplink(
  runner: Runner,
  ns: Netns,
  iface: string,
): Promise<UplinkState | undefined> {
  if (ns.kind === 'host') {
    const a = networkInterfaces()[iface]?.find((x) => x.family === 'IPv4');
    let mtu: number | undefined;
    try {
      mtu = Number(readFileSync(`/sys/class/net/${iface}/mtu`, 'utf8'));
    } catch {}
    if (a && mtu) return { ip: a.address, prefix: Number(a.cidr?.split('/')[1] ?? 32), mtu };
  }
  const r = await runner
    .run({ argv: execIn(ns, 'ip', '-j', '-4', 'addr', 'show', 'dev', iface) })
    .catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  const links = JSON.parse(r.stdout || '[]') as {
    mtu?: number;
    addr_info?: { local?: string; prefixlen?: number }[];
  }[];
  const a = links[0]?.addr_info?.find((x) => x.local);
  if (!a?.local) return undefined;
  return { ip: a.local, prefix: a.prefixlen ?? 32, mtu: links[0]?.mtu ?? 1500 };
}

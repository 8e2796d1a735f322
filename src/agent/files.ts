import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AgentConfig } from './config.js';

/**
 * The files the agent writes on its node: the CNI conflist (what the runtime hands the plugin), the lease file
 * the plugin's STATUS reads, and the subnet it held (so a restart asks for the same one even when its lease
 * expired meanwhile). Every write is atomic (temp file + rename): a runtime never reads half a conflist.
 */

/** The conflist for this node's subnet (pure). Masquerading is the agent's proxy's job, so not the plugin's. */
export function conflistOf(
  c: Pick<AgentConfig, 'cniDataDir' | 'stateDir'> & Partial<Pick<AgentConfig, 'cniSocket'>>,
  node: { subnet: string; mtu: number; bridge: string },
): object {
  return {
    cniVersion: '1.0.0',
    cniVersions: ['1.0.0', '1.1.0'],
    name: 'podnet',
    plugins: [
      {
        type: 'podnet',
        bridge: node.bridge,
        subnet: node.subnet,
        isGateway: true,
        isDefaultGateway: true,
        mtu: node.mtu,
        hairpinMode: true,
        ipMasq: false,
        ipam: { dataDir: c.cniDataDir },
        agentLeaseFile: leaseFilePath(c),
        ...(c.cniSocket ? { agentSocket: c.cniSocket } : {}),
      },
    ],
  };
}

export const leaseFilePath = (c: Pick<AgentConfig, 'stateDir'>): string => join(c.stateDir, 'lease.json');
const subnetFile = (c: Pick<AgentConfig, 'stateDir'>) => join(c.stateDir, 'subnet.json');

/** Writes `content` so readers see the old or the new file, never part of one. */
export function writeAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** Writes the conflist; false when the file already had exactly this content (nothing written). */
export function writeConflist(c: AgentConfig, conflist: object): boolean {
  const path = join(c.cniConfDir, c.cniConfName);
  const text = `${JSON.stringify(conflist, null, 2)}\n`;
  try {
    if (readFileSync(path, 'utf8') === text) return false;
  } catch {}
  writeAtomic(path, text);
  return true;
}

export function writeLeaseFile(
  c: AgentConfig,
  lease: { subnet: string; expiresAt: number; leaseId: string },
): void {
  writeAtomic(leaseFilePath(c), `${JSON.stringify({ node: c.node, ...lease })}\n`);
}

export function removeLeaseFile(c: AgentConfig): void {
  rmSync(leaseFilePath(c), { force: true });
}

/** The subnet this node held last, if recorded. */
export function readPreviousSubnet(c: AgentConfig): string | undefined {
  try {
    const j = JSON.parse(readFileSync(subnetFile(c), 'utf8')) as { node?: string; subnet?: string };
    return j.node === c.node && typeof j.subnet === 'string' ? j.subnet : undefined;
  } catch {
    return undefined;
  }
}

export function writePreviousSubnet(c: AgentConfig, subnet: string): void {
  writeAtomic(subnetFile(c), `${JSON.stringify({ node: c.node, subnet })}\n`);
}

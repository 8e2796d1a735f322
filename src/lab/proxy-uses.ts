import type { ProxyUses } from '../plan/services/nft-diff.js';
import type { LabState } from './state.js';

/**
 * What a one-shot lab command hands the next one about each node's service proxy: the use counts of the whole
 * model its table holds (nft-diff.ts ProxyUses), and the nftables generation id at which that was true. A
 * later change trusts the counts, and the table, only while the namespace's generation is still that one (no
 * transaction since, by anyone: src/observe/nft-generation.ts); otherwise it syncs that node whole.
 * The file is taken (read and deleted) before a change records its edit, and written only once the change
 * is applied, so a command that dies half-way leaves no record and the next one observes everything.
 */
export interface ProxyUsesRecord {
  readonly genid: number;
  readonly uses: ProxyUses;
}

export type ProxyUsesRecords = Readonly<Record<string, ProxyUsesRecord>>;

const FILE = 'proxy-uses.json';

/** Reads the records and removes the file. */
export function takeProxyUses(state: LabState): ProxyUsesRecords {
  const r = state.readJson<ProxyUsesRecords>(FILE) ?? {};
  state.removeFile(FILE);
  return r;
}

export function keepProxyUses(state: LabState, records: ProxyUsesRecords): void {
  if (Object.keys(records).length) state.writeJson(FILE, records);
}

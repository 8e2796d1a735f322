import type { ProxyModel } from '../plan/services/model.js';
import { planNftDiff, planNftFull } from '../plan/services/nftables.js';
import { renderNftTx } from './nft.js';

/** The service proxy's whole table as `nft -f` text (`lab explain`, golden files, benches). */
export const renderNftFull = (m: ProxyModel): string => renderNftTx(planNftFull(m));

/** Only what changed between two proxy models, as text: '' when nothing did, undefined when a full sync is due. */
export function renderNftDiff(prev: ProxyModel, next: ProxyModel): string | undefined {
  const tx = planNftDiff(prev, next);
  return tx === undefined ? undefined : tx.length ? renderNftTx(tx) : '';
}

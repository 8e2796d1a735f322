import type { PolicyNodeModel } from '../plan/policy/model.js';
import { policyDiffTx, policyFullTx, policyRemoveTx } from '../plan/policy/nftables.js';
import { renderNftTx } from './nft.js';

/**
 * The `podnet-policy` table's transactions (plan/policy/nftables.ts) as `nft -f` text (pure): what a dry run
 * and `explain` print, golden files, and what `nft -f` runs where the netlink path is not taken.
 */

export { POLICY_TABLE } from '../plan/policy/nftables.js';

/** The whole table, created afresh (an atomic replace when it exists). */
export const renderPolicyFull = (m: PolicyNodeModel): string => renderNftTx(policyFullTx(m));

/** Removes the table and everything in it. */
export const renderPolicyRemove = (): string => renderNftTx(policyRemoveTx());

/** Only what changed from `prev` to `next`, as one transaction; undefined when nothing did. */
export function renderPolicyDiff(prev: PolicyNodeModel, next: PolicyNodeModel): string | undefined {
  const tx = policyDiffTx(prev, next);
  return tx.length ? renderNftTx(tx) : undefined;
}

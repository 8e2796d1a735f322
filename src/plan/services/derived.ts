import type { ProxyServicePort } from './model.js';

/**
 * What a model builder knows of how one port list was derived from another (the agent's ProxyBuilder): the
 * ids of the ports that may differ. The planners then look only at those (binary search) instead of walking
 * both lists; without the note, or for any other pair of lists, they walk (the same result, O(n) pointer
 * compares). Kept beside the data, not in it: a ProxyModel stays plain, stored-and-diffed data.
 */
const notes = new WeakMap<
  readonly ProxyServicePort[],
  { from: readonly ProxyServicePort[]; ids: ReadonlySet<string> }
>();

export function noteDerived(
  from: readonly ProxyServicePort[],
  to: readonly ProxyServicePort[],
  ids: ReadonlySet<string>,
): void {
  if (from !== to) notes.set(to, { from, ids });
}

/** The ids that may differ between two lists, when `to` was noted as derived from `from`. */
export function derivedIds(
  from: readonly ProxyServicePort[],
  to: readonly ProxyServicePort[],
): ReadonlySet<string> | undefined {
  const n = notes.get(to);
  return n?.from === from ? n.ids : undefined;
}

/** The position of a port id in a list sorted by id, or -1. */
export function findPort(list: readonly ProxyServicePort[], id: string): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = list[mid]!.id;
    if (x === id) return mid;
    if (x < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

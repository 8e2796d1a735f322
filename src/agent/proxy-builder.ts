import type { Cluster } from '../model/resolve.js';
import { noteDerived } from '../plan/services/derived.js';
import type { ProxyModel, ProxyServicePort } from '../plan/services/model.js';
import type { ServiceSource } from './cache.js';
import { proxyModelOf } from './desired.js';
import { byId, portsOfService, type Skipped } from './proxy-ports.js';

/**
 * The agent's proxy model, rebuilt for the Services an event touched only: their ports are recomputed from
 * their slices, every other port stays the object it was (so the planner skips it by reference, nft-diff.ts),
 * and the sorted list is patched in place of being re-sorted. The result equals `proxyOfStore` over the same
 * store (proxy-builder.test.ts); a fresh list, or a change of node-wide settings, rebuilds it whole (still
 * keeping the port objects that did not change).
 */

interface Entry {
  readonly ports: readonly ProxyServicePort[];
  /** The key its slices are found under (the manifest's `namespace/name`). */
  readonly slicesKey: string;
}

/** The position of an id in a list sorted by id, or where it would go (`found` false). */
function search(list: readonly ProxyServicePort[], id: string): { at: number; found: boolean } {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return { at: lo, found: list[lo]?.id === id };
}

const same = (a: ProxyServicePort, b: ProxyServicePort) => a === b || JSON.stringify(a) === JSON.stringify(b);

export class ProxyBuilder {
  private readonly entries = new Map<string, Entry>();
  /** Slices key -> the store keys of the Services reading those slices (normally just itself). */
  private readonly readers = new Map<string, Set<string>>();
  private readonly skipped = new Map<string, Skipped>();
  private last: ProxyModel | undefined;
  private settings = '';
  /** Parsed manifests by stored object: a slice change does not parse its Service again. */
  private parsed = new WeakMap<object, unknown>();

  build(
    src: ServiceSource,
    cluster: Cluster,
    node: string,
    mode: 'nftables' | 'iptables',
  ): { proxy: ProxyModel; skipped: Skipped[] } {
    const settings = `${node} ${mode} ${cluster.spec.clusterCIDR} ${cluster.spec.serviceCIDR}`;
    const changed = src.takeChanged();
    const last = this.last;
    let services: readonly ProxyServicePort[];
    if (!last || !changed || settings !== this.settings) {
      const previous = new Map<string, ProxyServicePort>(last?.services.map((p) => [p.id, p]));
      this.entries.clear();
      this.readers.clear();
      this.skipped.clear();
      if (settings !== this.settings) this.parsed = new WeakMap();
      const all: ProxyServicePort[] = [];
      for (const key of src.services.keys())
        for (const p of this.update(key, src, cluster, node)) {
          const old = previous.get(p.id);
          all.push(old && same(old, p) ? old : p);
        }
      services = all.sort(byId);
    } else {
      const keys = new Set<string>();
      for (const k of changed) {
        keys.add(k);
        for (const r of this.readers.get(k) ?? []) keys.add(r);
      }
      const removed: string[] = [];
      const added: ProxyServicePort[] = [];
      const replaced: ProxyServicePort[] = [];
      for (const key of keys) {
        const before = new Map((this.entries.get(key)?.ports ?? []).map((p) => [p.id, p]));
        for (const p of this.update(key, src, cluster, node)) {
          const old = before.get(p.id);
          before.delete(p.id);
          if (!old) added.push(p);
          else if (!same(old, p)) replaced.push(p);
        }
        removed.push(...before.keys());
      }
      // A port equal to the one the list holds stays that object; entries are compared by value only.
      services = patch(last.services, removed, added, replaced);
      const touched = [...removed, ...added.map((p) => p.id), ...replaced.map((p) => p.id)];
      noteDerived(last.services, services, new Set(touched));
    }
    this.settings = settings;
    if (!last || services !== last.services) this.last = proxyModelOf(cluster, node, mode, services);
    const skipped = [...this.skipped.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    return { proxy: this.last!, skipped };
  }

  /** Recomputes one Service's entry from the store; returns its ports (none when gone or skipped). */
  private update(
    key: string,
    src: ServiceSource,
    cluster: Cluster,
    node: string,
  ): readonly ProxyServicePort[] {
    const old = this.entries.get(key);
    if (old) this.readers.get(old.slicesKey)?.delete(key);
    this.entries.delete(key);
    this.skipped.delete(key);
    const s = src.services.get(key);
    if (!s) return [];
    const r = portsOfService(s, (k) => src.slicesOf(k), cluster.spec.serviceCIDR, node, this.parsed);
    if ('skipped' in r) {
      this.skipped.set(key, r.skipped);
      return [];
    }
    this.entries.set(key, { ports: r.ports, slicesKey: r.slicesKey });
    const readers = this.readers.get(r.slicesKey) ?? new Set<string>();
    this.readers.set(r.slicesKey, readers);
    readers.add(key);
    return r.ports;
  }
}

/**
 * A sorted port list with some ids removed, some ports added and some replaced: one copy of the list (a
 * memcpy), then O(changed · log n) searches and splices. The same list when nothing changed.
 */
function patch(
  list: readonly ProxyServicePort[],
  removed: readonly string[],
  added: readonly ProxyServicePort[],
  replaced: readonly ProxyServicePort[],
): readonly ProxyServicePort[] {
  if (!removed.length && !added.length && !replaced.length) return list;
  const out = list.slice();
  for (const id of removed) {
    const { at, found } = search(out, id);
    if (found) out.splice(at, 1);
  }
  for (const p of added) out.splice(search(out, p.id).at, 0, p);
  for (const p of replaced) out[search(out, p.id).at] = p;
  return out;
}

import { type ServiceView, serviceKey } from './service.js';

/**
 * A services list's index by `namespace/name`, built once per list (pure; the list is never changed after it
 * is made). A resolved cluster's is built as it is resolved, an O(services) step like the rest of resolving,
 * so that a change of a few Services finds them without a walk over all of them (lab/proxy-part.ts).
 */

const indexes = new WeakMap<readonly ServiceView[], ReadonlyMap<string, ServiceView>>();

/** The Services of `services` by key (a spec defines each key once: service-manifest.ts checks). */
export function servicesByKey(services: readonly ServiceView[]): ReadonlyMap<string, ServiceView> {
  let index = indexes.get(services);
  if (!index) {
    const m = new Map<string, ServiceView>();
    for (const s of services) m.set(serviceKey(s), s);
    indexes.set(services, m);
    index = m;
  }
  return index;
}

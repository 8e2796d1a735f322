import { PlanError } from '../../errors.js';
import type { NftCmd } from '../nft.js';
import type { ProxyModel, ProxyServicePort } from './model.js';
import { chainCmds, classEntries, elementCmds, entries } from './nft-cmds.js';
import { changedPorts, type Elements, elementsAt, elementsOf } from './nft-elements.js';
import { classChain, isStanding, NFT, type PickClass, pickChain } from './nft-layout.js';

/**
 * The partial sync of the flat layout: only the elements of the service ports that changed, O(changed) plus
 * one pointer walk. Classes and hairpin pairs are shared between ports, so whether one appears or goes
 * depends on the ports that did not change: their use counts over a whole model are built once and then
 * carried from model to model by each partial sync (the `Uses` below), never recomputed per change.
 */

/** Class and hairpin-pair use counts over a whole model. */
interface Uses {
  /** Every class in use (and the standing ones), by mark. */
  readonly classes: Map<string, PickClass>;
  readonly classUses: Map<string, number>;
  readonly hairpinUses: Map<string, number>;
}

/**
 * Counts per services list. A partial sync moves its counts from `prev`'s list to `next`'s (the next change
 * starts from `next`); a list whose counts have moved on gets them rebuilt if it is diffed again (O(n), the
 * same result).
 */
const usesOf = new WeakMap<readonly ProxyServicePort[], Uses>();

function buildUses(m: ProxyModel): Uses {
  const el = elementsOf(m, false);
  return { classes: el.classes, classUses: el.classUses, hairpinUses: el.hairpinUses };
}

/** Keeps the counts of a model expanded in full anyway (the full sync), so its first change needs no walk. */
export function rememberUses(m: ProxyModel, el: Elements): void {
  if (!usesOf.has(m.services))
    usesOf.set(m.services, { classes: el.classes, classUses: el.classUses, hairpinUses: el.hairpinUses });
}

/**
 * The use counts as plain data, for a caller that keeps them between processes (the lab's one-shot change:
 * lab/proxy-uses.ts): what a whole model uses, so a diff of only the changed ports knows whether a class or a
 * hairpin pair is still held by a port it did not look at.
 */
export interface ProxyUses {
  readonly classes: readonly (readonly [string, PickClass])[];
  readonly classUses: readonly (readonly [string, number])[];
  readonly hairpinUses: readonly (readonly [string, number])[];
}

/** A whole model's use counts (O(n): what the one-shot caller records after a full sync). */
export function proxyUsesOf(m: ProxyModel): ProxyUses {
  const u = usesOf.get(m.services) ?? buildUses(m);
  return { classes: [...u.classes], classUses: [...u.classUses], hairpinUses: [...u.hairpinUses] };
}

/**
 * Plans the diff of `prev` to `next` where both hold only some ports (every port of the Services that
 * changed), against the counts of the whole model `prev` stands for; returns the diff and the whole `next`
 * model's counts. The result is planNftDiff's over the two whole models (nft-partial.test.ts).
 */
export function planNftDiffOfPart(
  prev: ProxyModel,
  next: ProxyModel,
  uses: ProxyUses,
): { tx: NftCmd[] | undefined; uses: ProxyUses } {
  usesOf.set(prev.services, {
    classes: new Map(uses.classes),
    classUses: new Map(uses.classUses),
    hairpinUses: new Map(uses.hairpinUses),
  });
  const tx = planNftDiff(prev, next);
  const after = usesOf.get(next.services) ?? usesOf.get(prev.services)!;
  usesOf.delete(prev.services);
  usesOf.delete(next.services);
  return {
    tx,
    uses: {
      classes: [...after.classes],
      classUses: [...after.classUses],
      hairpinUses: [...after.hairpinUses],
    },
  };
}

const get = (m: Map<string, number>, k: string) => m.get(k) ?? 0;

/**
 * Use counts in both models from one model's counts and the changed ports' own counts (`a`: their elements
 * in prev, `b` in next): prev = next - b + a. `commit` carries the counts over to next.
 */
function countsFor(prev: ProxyModel, next: ProxyModel, a: Elements, b: Elements) {
  const kept = usesOf.get(prev.services);
  let uses = usesOf.get(next.services);
  if (!uses && !kept) {
    uses = buildUses(next);
    usesOf.set(next.services, uses);
  }
  const fromNext = uses !== undefined;
  const u = uses ?? kept!;
  const delta = (side: 'prev' | 'next', m: 'classUses' | 'hairpinUses', k: string) =>
    (side === 'next') === fromNext
      ? get(u[m], k)
      : get(u[m], k) + (fromNext ? get(a[m], k) - get(b[m], k) : get(b[m], k) - get(a[m], k));
  return {
    prev: (m: 'classUses' | 'hairpinUses', k: string) => delta('prev', m, k),
    next: (m: 'classUses' | 'hairpinUses', k: string) => delta('next', m, k),
    /** The class known under a mark, and whether ports outside the change (or the layout itself) hold it. */
    held(k: string): PickClass | undefined {
      const c = u.classes.get(k);
      if (!c) return undefined;
      const outside = get(u.classUses, k) - get((fromNext ? b : a).classUses, k);
      return isStanding(c) || outside > 0 ? c : undefined;
    },
    commit(): void {
      if (fromNext) return;
      for (const m of ['classUses', 'hairpinUses'] as const) {
        for (const [k, n] of a[m]) u[m].set(k, get(u[m], k) - n);
        for (const [k, n] of b[m]) u[m].set(k, get(u[m], k) + n);
        for (const k of [...a[m].keys(), ...b[m].keys()]) if (get(u[m], k) <= 0) u[m].delete(k);
      }
      for (const [k, c] of b.classes) u.classes.set(k, c);
      for (const [k, c] of a.classes) if (!u.classUses.has(k) && !isStanding(c)) u.classes.delete(k);
      usesOf.delete(prev.services);
      usesOf.set(next.services, u);
    },
  };
}

/**
 * Only what changed between two models, as one transaction of element (and, rarely, pick-chain) adds and
 * deletes; [] when nothing did. Undefined when the change is not expressible that way (node-wide settings
 * changed): sync in full. Order inside the transaction: new pick chains and classes, then portals out,
 * endpoints replaced, portals back in, so no packet can ever see a portal whose class or endpoints are missing.
 * The result is the element diff of the two full tables (nft-diff.test.ts checks it on random changes).
 */
export function planNftDiff(prev: ProxyModel, next: ProxyModel): NftCmd[] | undefined {
  if (
    prev.clusterCIDR !== next.clusterCIDR ||
    prev.egressMasquerade !== next.egressMasquerade ||
    prev.mode !== next.mode
  )
    return undefined;
  if (prev.services === next.services) return [];
  const changed = changedPorts(prev, next);
  if (changed.before.length === 0 && changed.after.length === 0) return [];
  const a = elementsAt(prev, changed.before);
  const b = elementsAt(next, changed.after);
  const n = countsFor(prev, next, a, b);
  for (const [k, c] of b.classes) {
    const held = n.held(k);
    if (held && classChain(held) !== classChain(c))
      throw new PlanError(
        `pick classes '${classChain(held)}' and '${classChain(c)}' hash to the same mark ${k}`,
      );
  }
  // A class appears when no port of prev used it, and goes once no port of next does (its chain too), so a
  // partial sync leaves the table as a full one would (a restarted agent then finds nothing to do).
  const newClasses = [...b.classes].filter(([k, c]) => !isStanding(c) && n.prev('classUses', k) === 0);
  const gone = [...a.classes].filter(([k, c]) => !isStanding(c) && n.next('classUses', k) === 0);
  const out: NftCmd[] = [
    ...newClasses.filter(([, c]) => c.n > 0).flatMap(([, c]) => chainCmds(c)),
    ...elementCmds('add', NFT.classes, classEntries(newClasses)),
  ];
  const removes: NftCmd[] = [];
  const adds: NftCmd[] = [];
  const portals: NftCmd[] = [];
  const portalRemoves: NftCmd[] = [];
  const diff = (
    name: string,
    x: Map<string, string>,
    y: Map<string, string>,
    into = adds,
    from = removes,
  ) => {
    const del = [...x].filter(([k, v]) => !y.has(k) || y.get(k) !== v).map(([key]) => ({ key }));
    const add = [...y].filter(([k, v]) => !x.has(k) || x.get(k) !== v);
    from.push(...elementCmds('delete', name, del));
    into.push(...elementCmds('add', name, entries(new Map(add))));
  };
  diff(NFT.serviceClasses, a.serviceClasses, b.serviceClasses, portals, portalRemoves);
  diff(NFT.nodeportClasses, a.nodeportClasses, b.nodeportClasses, portals, portalRemoves);
  diff(NFT.endpoints, a.endpoints, b.endpoints);
  diff(NFT.nodeportEndpoints, a.nodeportEndpoints, b.nodeportEndpoints);
  // A hairpin pair (a local endpoint) stays while any port of the model still has it.
  const pairs = (x: Elements, other: 'prev' | 'next') =>
    new Map([...x.hairpin].filter(([k]) => n[other]('hairpinUses', k) === 0));
  diff(NFT.hairpin, pairs(a, 'next'), pairs(b, 'prev'));
  out.push(...portalRemoves, ...removes, ...adds, ...portals);
  // Last: no portal leads to these classes any more; a chain must be empty before it is deleted.
  out.push(
    ...elementCmds(
      'delete',
      NFT.classes,
      gone.map(([key]) => ({ key })),
    ),
  );
  for (const [, c] of gone)
    if (c.n > 0) out.push({ verb: 'flush', chain: pickChain(c) }, { verb: 'delete', chain: pickChain(c) });
  n.commit();
  return out;
}

import { PlanError } from '../../errors.js';
import { derivedIds, findPort } from './derived.js';
import type { ProxyEndpoint, ProxyModel, ProxyServicePort } from './model.js';
import {
  classChain,
  classMark,
  hex,
  MAX_PORT_SLOTS,
  offsetOf,
  type PickClass,
  STANDING_CLASSES,
} from './nft-layout.js';

/** The per-service elements of the flat layout (nft-layout.ts), as text keyed by element key, so two models can be diffed element by element. */
export interface Elements {
  readonly serviceClasses: Map<string, string>;
  readonly nodeportClasses: Map<string, string>;
  readonly endpoints: Map<string, string>;
  readonly nodeportEndpoints: Map<string, string>;
  readonly hairpin: Map<string, string>;
  /** Class mark (hex) → the class its pick chain serves. */
  readonly classes: Map<string, PickClass>;
  /** How many of the ports looked at use each class mark, and each hairpin pair (a partial sync's counts). */
  readonly classUses: Map<string, number>;
  readonly hairpinUses: Map<string, number>;
}

function clusterClass(s: ProxyServicePort, slot: number): PickClass {
  return {
    n: s.endpoints.length,
    slot,
    ...(s.affinitySeconds ? { affinity: s.affinitySeconds } : {}),
    nodePort: false,
    local: false,
  };
}

function nodePortClass(s: ProxyServicePort): PickClass {
  return {
    n: s.nodePortEndpoints?.length ?? 0,
    slot: 0,
    ...(s.affinitySeconds ? { affinity: s.affinitySeconds } : {}),
    nodePort: true,
    local: s.nodePortLocal ?? false,
  };
}

const epValue = (e: ProxyEndpoint) => `${e.ip} . ${e.port}`;
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

const emptyElements = (): Elements => ({
  serviceClasses: new Map(),
  nodeportClasses: new Map(),
  endpoints: new Map(),
  nodeportEndpoints: new Map(),
  hairpin: new Map(),
  classes: new Map(),
  classUses: new Map(),
  hairpinUses: new Map(),
});

/** Adds a class to `el.classes` (checking that marks do not collide) and returns its mark. */
function addClass(el: Elements, c: PickClass): string {
  const mark = hex(classMark(c));
  const seen = el.classes.get(mark);
  if (seen === undefined) el.classes.set(mark, c);
  else if (seen !== c && classChain(seen) !== classChain(c))
    throw new PlanError(
      `pick classes '${classChain(seen)}' and '${classChain(c)}' hash to the same mark ${mark}`,
    );
  return mark;
}

/** One service port's elements (its slot given); with `maps` false only its classes and hairpin pairs. */
function addPort(el: Elements, s: ProxyServicePort, slot: number, maps = true): void {
  if (slot >= MAX_PORT_SLOTS)
    throw new PlanError(
      `service port '${s.id}': ClusterIP ${s.clusterIP} has more than ${MAX_PORT_SLOTS} ports`,
    );
  const c = clusterClass(s, slot);
  const mark = addClass(el, c);
  bump(el.classUses, mark);
  for (const eps of [s.endpoints, s.nodePortEndpoints ?? []])
    for (const e of eps)
      if (e.local) {
        const pair = `${e.ip} . ${e.ip}`;
        el.hairpin.set(pair, '');
        bump(el.hairpinUses, pair);
      }
  const npClass = s.nodePort !== undefined ? nodePortClass(s) : undefined;
  const npMark = npClass ? addClass(el, npClass) : undefined;
  if (npMark) bump(el.classUses, npMark);
  if (!maps) return;
  el.serviceClasses.set(`${s.clusterIP} . ${s.protocol} . ${s.port}`, mark);
  const off = offsetOf(c);
  s.endpoints.forEach((e, i) => {
    el.endpoints.set(`${s.clusterIP} . ${off + i}`, epValue(e));
  });
  if (npClass && npMark) {
    const np = `${s.protocol} . ${s.nodePort}`;
    el.nodeportClasses.set(np, npMark);
    const npOff = offsetOf(npClass);
    for (const [i, e] of (s.nodePortEndpoints ?? []).entries())
      el.nodeportEndpoints.set(`${np} . ${npOff + i}`, epValue(e));
  }
}

/**
 * The whole table's elements for a model (the full sync); with `maps` false only the classes and hairpin
 * pairs with their use counts (what a partial sync needs to know of the unchanged ports).
 */
export function elementsOf(m: ProxyModel, maps = true): Elements {
  const el = emptyElements();
  // Pick chains for 1-16 endpoints, and the no-endpoints class, always exist: an endpoint change then never
  // adds or removes a chain (a chain change makes the kernel re-validate the table's jumps), only map elements.
  for (let n = 0; n <= STANDING_CLASSES; n++) addClass(el, { n, slot: 0, nodePort: false, local: false });
  // Ports of one service share its ClusterIP and sit next to each other (services are sorted by id), so a
  // port's slot is its place in that run.
  let slot = -1;
  let lastIP = '';
  for (const s of m.services) {
    slot = s.clusterIP === lastIP ? slot + 1 : 0;
    lastIP = s.clusterIP;
    addPort(el, s, slot, maps);
  }
  return el;
}

/** The elements of the ports at these positions of the model only (ascending): O(those ports). */
export function elementsAt(m: ProxyModel, positions: readonly number[]): Elements {
  const el = emptyElements();
  const S = m.services;
  for (const p of positions) {
    const s = S[p]!;
    let slot = 0;
    while (p - slot > 0 && S[p - slot - 1]!.clusterIP === s.clusterIP) slot++;
    addPort(el, s, slot);
  }
  return el;
}

const sameEndpoints = (x: readonly ProxyEndpoint[] = [], y: readonly ProxyEndpoint[] = []) =>
  x.length === y.length &&
  x.every((e, i) => e.ip === y[i]!.ip && e.port === y[i]!.port && e.local === y[i]!.local);

/** Whether two versions of a service port render to the same elements. */
export function sameServicePort(x: ProxyServicePort, y: ProxyServicePort): boolean {
  if (x === y) return true; // a model built from the last one shares its unchanged service ports
  return (
    x.clusterIP === y.clusterIP &&
    x.protocol === y.protocol &&
    x.port === y.port &&
    x.nodePort === y.nodePort &&
    x.nodePortLocal === y.nodePortLocal &&
    x.affinitySeconds === y.affinitySeconds &&
    sameEndpoints(x.endpoints, y.endpoints) &&
    sameEndpoints(x.nodePortEndpoints, y.nodePortEndpoints)
  );
}

/** Where the service ports that must be re-expanded sit in each model (ascending positions). */
export interface PortChanges {
  readonly before: number[];
  readonly after: number[];
}

/**
 * The service ports that differ between two models, plus every port sharing a ClusterIP with one (its slot
 * may move), in both models. When the builder noted which ids it touched (derived.ts), only those are looked
 * up; otherwise both lists, sorted by id, are walked in lockstep, a port shared by reference costing one
 * pointer compare (its elements are never built nor compared). The ports of one
 * ClusterIP sit next to each other (as elementsOf's slots assume), so widening a change to them, and finding
 * the same ids in the other model (binary search), costs O(changed · log n).
 */
export function changedPorts(prev: ProxyModel, next: ProxyModel): PortChanges {
  const A = prev.services;
  const B = next.services;
  const inA = new Set<number>();
  const inB = new Set<number>();
  const todo: [readonly ProxyServicePort[], number][] = [];
  const hint = derivedIds(A, B);
  if (hint)
    for (const id of hint) {
      const i = findPort(A, id);
      const j = findPort(B, id);
      const x = A[i];
      const y = B[j];
      if (x && y && sameServicePort(x, y)) continue;
      if (x) todo.push([A, i]);
      if (y) todo.push([B, j]);
    }
  else
    for (let i = 0, j = 0; i < A.length || j < B.length; ) {
      const x = A[i];
      const y = B[j];
      if (x === y) {
        i++;
        j++;
      } else if (x && y && x.id === y.id) {
        if (!sameServicePort(x, y)) todo.push([A, i], [B, j]);
        i++;
        j++;
      } else if (x && (!y || x.id < y.id)) todo.push([A, i++]);
      else todo.push([B, j++]);
    }
  // Widen to whole ClusterIP runs, and mark each id in both models, until nothing new is found.
  while (todo.length) {
    const [list, p] = todo.pop()!;
    const seen = list === A ? inA : inB;
    if (seen.has(p)) continue;
    seen.add(p);
    const s = list[p]!;
    const other = list === A ? B : A;
    const q = findPort(other, s.id);
    if (q >= 0) todo.push([other, q]);
    if (p > 0 && list[p - 1]!.clusterIP === s.clusterIP) todo.push([list, p - 1]);
    if (p + 1 < list.length && list[p + 1]!.clusterIP === s.clusterIP) todo.push([list, p + 1]);
  }
  const asc = (x: Set<number>) => [...x].sort((a, b) => a - b);
  return { before: asc(inA), after: asc(inB) };
}

import { PlanError } from '../../errors.js';
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

/**
 * The table's elements for a model. With `only`, the per-service maps hold just those service ports (what a
 * partial sync needs: building 50,000 endpoint strings to diff one service would dominate the sync), while
 * classes and hairpin, which services share, are always computed over all of them.
 */
export function elementsOf(m: ProxyModel, only?: ReadonlySet<string>): Elements {
  const el: Elements = {
    serviceClasses: new Map(),
    nodeportClasses: new Map(),
    endpoints: new Map(),
    nodeportEndpoints: new Map(),
    hairpin: new Map(),
    classes: new Map(),
  };
  const addClass = (c: PickClass) => {
    const mark = hex(classMark(c));
    const seen = el.classes.get(mark);
    if (seen === undefined) el.classes.set(mark, c);
    else if (seen !== c && classChain(seen) !== classChain(c))
      throw new PlanError(
        `pick classes '${classChain(seen)}' and '${classChain(c)}' hash to the same mark ${mark}`,
      );
    return mark;
  };
  // Pick chains for 1-16 endpoints, and the no-endpoints class, always exist: an endpoint change then never
  // adds or removes a chain (a chain change makes the kernel re-validate the table's jumps), only map elements.
  if (!only)
    for (let n = 0; n <= STANDING_CLASSES; n++) addClass({ n, slot: 0, nodePort: false, local: false });
  // Ports of one service share its ClusterIP and sit next to each other (services are sorted by id), so a
  // port's slot is its place in that run.
  let slot = -1;
  let lastIP = '';
  for (const s of m.services) {
    slot = s.clusterIP === lastIP ? slot + 1 : 0;
    lastIP = s.clusterIP;
    if (only && !only.has(s.id)) continue;
    if (slot >= MAX_PORT_SLOTS)
      throw new PlanError(
        `service port '${s.id}': ClusterIP ${s.clusterIP} has more than ${MAX_PORT_SLOTS} ports`,
      );
    const vip = `${s.clusterIP} . ${s.protocol} . ${s.port}`;
    const c = clusterClass(s, slot);
    const mark = addClass(c);
    for (const e of s.endpoints) if (e.local) el.hairpin.set(`${e.ip} . ${e.ip}`, '');
    for (const e of s.nodePortEndpoints ?? []) if (e.local) el.hairpin.set(`${e.ip} . ${e.ip}`, '');
    const npClass = s.nodePort !== undefined ? nodePortClass(s) : undefined;
    const npMark = npClass ? addClass(npClass) : undefined;
    el.serviceClasses.set(vip, mark);
    s.endpoints.forEach((e, i) => {
      el.endpoints.set(`${s.clusterIP} . ${offsetOf(c) + i}`, epValue(e));
    });
    if (npClass && npMark) {
      const np = `${s.protocol} . ${s.nodePort}`;
      el.nodeportClasses.set(np, npMark);
      for (const [i, e] of (s.nodePortEndpoints ?? []).entries())
        el.nodeportEndpoints.set(`${np} . ${offsetOf(npClass) + i}`, epValue(e));
    }
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

/**
 * The ids of the service ports that differ between two models, plus every port sharing a ClusterIP with one
 * (its slot may move). Both lists are sorted by id, so one lockstep walk finds them, reading only ids (and
 * ClusterIPs) of ports shared by reference: an unchanged port's elements are never built nor compared.
 */
export function changedPorts(prev: ProxyModel, next: ProxyModel): Set<string> {
  const A = prev.services;
  const B = next.services;
  const changed = new Set<string>();
  const touched = new Set<string>();
  const mark = (x: ProxyServicePort) => {
    changed.add(x.id);
    touched.add(x.clusterIP);
  };
  for (let i = 0, j = 0; i < A.length || j < B.length; ) {
    const x = A[i];
    const y = B[j];
    if (x && y && x.id === y.id) {
      if (!sameServicePort(x, y)) {
        mark(x);
        mark(y);
      }
      i++;
      j++;
    } else if (x && (!y || x.id < y.id)) {
      mark(x);
      i++;
    } else if (y) {
      mark(y);
      j++;
    }
  }
  if (changed.size === 0) return changed;
  for (const x of A) if (touched.has(x.clusterIP)) changed.add(x.id);
  for (const y of B) if (touched.has(y.clusterIP)) changed.add(y.id);
  return changed;
}

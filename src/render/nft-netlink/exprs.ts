import { NotEncoded } from './types.js';
import type { Wire } from './wire.js';

/**
 * The kernel expressions podnet's rules are made of (nf_tables.h: NFTA_PAYLOAD_*, NFTA_META_*, …), built as
 * nft 1.0.6 builds them, and the selectors (`ip saddr`, `meta mark`, …) that load a field into a register.
 */

/** One kernel expression: its name and a writer of its attributes. */
export interface Expr {
  readonly name: string;
  readonly attrs: (w: Wire) => void;
}

export interface Selector {
  readonly type: string;
  readonly load: (reg: number) => Expr;
  /** nft's typeof marker for an anonymous set keyed by this selector, when encoded. */
  readonly typeof?: readonly number[];
}

export const payload = (base: number, offset: number, len: number) => (reg: number) =>
  ex('payload', (w) => {
    w.u32(1, reg);
    w.u32(2, base);
    w.u32(3, offset);
    w.u32(4, len);
  });
export const metaLoad = (key: number) => (reg: number) =>
  ex('meta', (w) => {
    w.u32(2, key);
    w.u32(1, reg);
  });
export const ctLoad = (key: number) => (reg: number) =>
  ex('ct', (w) => {
    w.u32(2, key);
    w.u32(1, reg);
  });

export const SELECTORS: Record<string, Selector> = {
  'ip saddr': { type: 'ipv4_addr', load: payload(1, 12, 4) },
  'ip daddr': { type: 'ipv4_addr', load: payload(1, 16, 4) },
  'th sport': { type: 'inet_service', load: payload(2, 0, 2) },
  'th dport': { type: 'inet_service', load: payload(2, 2, 2) },
  'meta l4proto': {
    type: 'inet_proto',
    load: metaLoad(16),
    typeof: [0, 4, 9, 0, 0, 0, 1, 6, 0, 4, 16, 0, 0, 0],
  },
  'meta mark': { type: 'mark', load: metaLoad(3) },
  'ct status': { type: 'ct_status', load: ctLoad(2) },
  'ct state': { type: 'ct_state', load: ctLoad(0) },
};
export const CT_BITS: Record<string, Record<string, number>> = {
  ct_status: { expected: 1, 'seen-reply': 2, assured: 4, confirmed: 8, snat: 0x10, dnat: 0x20 },
  ct_state: { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 },
};
export const VERDICTS: Record<string, number> = { accept: 1, drop: 0, return: -5, continue: -1 };
export const CMP = { eq: 0, neq: 1 } as const;

export const ex = (name: string, attrs: (w: Wire) => void): Expr => ({ name, attrs });
export const data = (w: Wire, type: number, bytes: Uint8Array) => {
  w.nest(type);
  w.bytes(1, bytes);
  w.end();
};
export const cmp = (reg: number, op: number, bytes: Uint8Array) =>
  ex('cmp', (w) => {
    w.u32(1, reg);
    w.u32(2, op);
    data(w, 3, bytes);
  });
export const le32 = (v: number) => Uint8Array.of(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
export const be32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
/** The register of word `w` of a value loaded from word 0: 16-byte NFT_REG_n at a boundary, else NFT_REG32_w. */
export const regOf = (word: number) => (word % 4 === 0 ? 1 + word / 4 : 8 + word);
export const verdict = (code: number, chain?: string) =>
  ex('immediate', (w) => {
    w.u32(1, 0);
    w.nest(2);
    w.nest(2);
    w.u32(1, code);
    if (chain !== undefined) w.str(2, chain);
    w.end();
    w.end();
  });

export const bitwise = (len: number, mask: Uint8Array) =>
  ex('bitwise', (w) => {
    w.u32(1, 1);
    w.u32(2, 1);
    w.u32(3, len);
    data(w, 4, mask);
    data(w, 5, new Uint8Array(len));
  });

/** A payload load of the same field, shortened to its first `len` bytes (a prefix match). */
export function resize(load: Expr, len: number): Expr {
  if (load.name !== 'payload') throw new NotEncoded('a prefix on a non-payload selector');
  return ex('payload', (w) => {
    load.attrs(w);
    // The LEN attribute is the last one written (4 + 4 bytes): overwrite its value.
    w.dv.setUint32(w.at - 4, len, false);
  });
}

/** `meta nfproto ipv4`: the dependency nft puts before an `ip …` match in an inet table. */
export const nfprotoIpv4 = (): Expr[] => [metaLoad(15)(1), cmp(1, CMP.eq, Uint8Array.of(2))];

/** Host to network order of a host-order field (`meta l4proto`) in a concatenation looked up in an interval set. */
export const hton = (reg: number, len: number, size: number) =>
  ex('byteorder', (w) => {
    w.u32(1, reg);
    w.u32(2, reg);
    w.u32(3, 1);
    w.u32(4, len);
    w.u32(5, size);
  });

/** `counter name X`: an object reference to a named counter (NFT_OBJECT_COUNTER). */
export const objref = (name: string) =>
  ex('objref', (w) => {
    w.u32(1, 1);
    w.str(2, name);
  });

/** `log prefix "…" [group N]`: NFTA_LOG_PREFIX, NFTA_LOG_GROUP (big-endian u16). */
export const log = (prefix: string | undefined, group: number | undefined) =>
  ex('log', (w) => {
    if (group !== undefined) w.bytes(1, Uint8Array.of(group >> 8, group & 255));
    if (prefix !== undefined) w.str(2, prefix);
  });

/**
 * nft's data types as the kernel stores them (nft's datatype.h ids, byte order, width), and values in nft
 * syntax (`10.96.0.3`, `tcp`, `8080`, `0x4000`) as those bytes. A concatenation (`ipv4_addr . inet_service`)
 * is its fields each padded to 4 bytes, as nft lays them out in registers and set keys.
 */

/** Thrown for anything this encoder does not speak yet: the caller falls back to `nft -f`. */
export class NotEncoded extends Error {}

export const BYTEORDER = { host: 1, big: 2 } as const;

export interface DataType {
  readonly id: number;
  /** Bytes of the value itself (1 for inet_proto; padded to 4 inside a concatenation). */
  readonly len: number;
  readonly order: 1 | 2;
  /** Writes the value `text.slice(from, to)` at `at` (the bytes are zero beforehand), without slicing. */
  readonly write: (text: string, from: number, to: number, out: Uint8Array, at: number) => void;
}

const PROTOS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58 };

/** A decimal or 0x-hex number in `text[from, to)` (these run once per element: no substrings). */
function int(text: string, from: number, to: number): number {
  let v = 0;
  if (to - from > 2 && text.charCodeAt(from) === 48 && text.charCodeAt(from + 1) === 120) {
    for (let i = from + 2; i < to; i++) {
      const c = text.charCodeAt(i) | 0x20;
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0 || i - from > 9) throw new NotEncoded(`not a number: '${text.slice(from, to)}'`);
      v = v * 16 + d;
    }
    return v;
  }
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || i - from > 9) throw new NotEncoded(`not a number: '${text.slice(from, to)}'`);
    v = v * 10 + d;
  }
  if (to === from || v > 0xffffffff) throw new NotEncoded(`not a number: '${text.slice(from, to)}'`);
  return v;
}

/** Dotted quad into 4 bytes. */
export function writeIpv4(text: string, from: number, to: number, out: Uint8Array, at: number): void {
  let part = 0;
  let v = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && digits > 0 && part < 3) {
      out[at + part++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      v = v * 10 + c - 48;
      digits++;
    } else throw new NotEncoded(`not an IPv4 address: '${text.slice(from, to)}'`);
    if (v > 255) throw new NotEncoded(`not an IPv4 address: '${text.slice(from, to)}'`);
  }
  if (part !== 3 || digits === 0) throw new NotEncoded(`not an IPv4 address: '${text.slice(from, to)}'`);
  out[at + 3] = v;
}

export const TYPES: Record<string, DataType> = {
  ipv4_addr: { id: 7, len: 4, order: 2, write: writeIpv4 },
  inet_proto: {
    id: 12,
    len: 1,
    order: 2,
    write: (t, from, to, out, at) => {
      const c = t.charCodeAt(from);
      const p = c >= 48 && c <= 57 ? int(t, from, to) : PROTOS[t.slice(from, to)];
      if (p === undefined || p > 255) throw new NotEncoded(`not a protocol: '${t.slice(from, to)}'`);
      out[at] = p;
    },
  },
  inet_service: {
    id: 13,
    len: 2,
    order: 2,
    write: (t, from, to, out, at) => {
      const p = int(t, from, to);
      if (p > 0xffff) throw new NotEncoded(`not a port: '${t.slice(from, to)}'`);
      out[at] = p >> 8;
      out[at + 1] = p & 255;
    },
  },
  mark: {
    id: 19,
    len: 4,
    order: 1,
    write: (t, from, to, out, at) => {
      const v = int(t, from, to);
      out[at] = v & 255;
      out[at + 1] = (v >>> 8) & 255;
      out[at + 2] = (v >>> 16) & 255;
      out[at + 3] = v >>> 24;
    },
  },
};

/** A key or value type (`ipv4_addr . inet_service`): its fields, kernel type id and length. */
export interface Layout {
  readonly fields: readonly DataType[];
  readonly id: number;
  readonly len: number;
  readonly concat: boolean;
}

const layouts = new Map<string, Layout>();

export function layoutOf(spec: string): Layout {
  const known = layouts.get(spec);
  if (known) return known;
  const fields = spec.split(' . ').map((name) => {
    const t = TYPES[name.trim()];
    if (!t) throw new NotEncoded(`data type '${name}' is not encoded`);
    return t;
  });
  const concat = fields.length > 1;
  // nft's concat type id: each field's id shifted in, 6 bits apiece (TYPE_BITS).
  const id = fields.reduce((acc, f) => acc * 64 + f.id, 0);
  const len = concat ? fields.length * 4 : fields[0]!.len;
  const l = { fields, id, len, concat };
  layouts.set(spec, l);
  return l;
}

/** Writes a value of `layout` (fields separated by ` . `) into `out` at `at`, where the bytes are still zero. */
export function writeValue(layout: Layout, text: string, out: Uint8Array, at: number): void {
  if (!layout.concat) {
    layout.fields[0]!.write(text, 0, text.length, out, at);
    return;
  }
  let from = 0;
  const n = layout.fields.length;
  for (let i = 0; i < n; i++) {
    const dot = i === n - 1 ? text.length : text.indexOf(' . ', from);
    if (dot < 0) throw new NotEncoded(`'${text}' has fewer fields than its type`);
    layout.fields[i]!.write(text, from, dot, out, at + i * 4);
    from = dot + 3;
  }
}

/**
 * A set's NFTA_SET_USERDATA as nft writes it (libnftnl's udata TLVs: type, length, value), so `nft list`
 * prints our sets exactly as its own: key byte order (0 for a concatenation), data byte order for a map, a
 * marker for a concatenated key or value, a map's data-interval flag, the comment.
 */
export function setUserdata(
  key: Layout,
  value: Layout | 'verdict' | undefined,
  comment?: string,
): Uint8Array {
  const out: number[] = [];
  const u32 = (type: number, v: number) => out.push(type, 4, v & 255, (v >>> 8) & 255, 0, 0);
  u32(0, key.concat ? 0 : key.fields[0]!.order);
  if (value !== undefined) u32(1, value === 'verdict' || value.concat ? 0 : value.fields[0]!.order);
  const CONCAT_TYPEOF = [0, 4, 13, 0, 0, 0, 1, 0]; // { expression type: EXPR_CONCAT, no field data }
  if (key.concat) out.push(3, 8, ...CONCAT_TYPEOF);
  if (value !== undefined && value !== 'verdict' && value.concat) out.push(4, 8, ...CONCAT_TYPEOF);
  if (value !== undefined) u32(6, 0);
  if (comment !== undefined) {
    const c = new TextEncoder().encode(comment);
    if (c.length + 1 > 255) throw new NotEncoded('set comment longer than 254 bytes');
    out.push(7, c.length + 1, ...c, 0);
  }
  return Uint8Array.from(out);
}

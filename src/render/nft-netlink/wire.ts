/**
 * nfnetlink messages as bytes (linux/netlink.h, linux/netfilter/nfnetlink.h, nf_tables.h): a growable buffer
 * that messages and (nested) attributes are written into in place, so a batch of 300,000 set elements is one
 * buffer and no object per attribute. Pure: no sockets here. nftables attributes are big-endian; the netlink
 * headers around them are host order (little-endian on every machine podnet runs on).
 */

import { type Layout, writeValue } from './types.js';

export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;
/** enum nf_tables_msg_types */
export const NFT_MSG = {
  NEWTABLE: 0,
  DELTABLE: 2,
  NEWCHAIN: 3,
  DELCHAIN: 5,
  NEWRULE: 6,
  DELRULE: 8,
  NEWSET: 9,
  DELSET: 11,
  NEWSETELEM: 12,
  DELSETELEM: 14,
  NEWOBJ: 18,
  DELOBJ: 20,
} as const;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
const NLA_F_NESTED = 0x8000;
/** NFPROTO_* of nftables' families. */
export const FAMILY = { ip: 2, ip6: 10, inet: 1 } as const;

/** Invariant: every byte at or after `at` is zero (the buffer is only ever written forward), so values and
 * padding need no clearing. */
export class Wire {
  buf: Uint8Array;
  dv: DataView;
  at = 0;

  /** `size`: a guess of the bytes to come (a batch's elements dominate), so the buffer rarely grows. */
  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }
  /** Start offsets of the open message and nests; a message is marked by a negative offset - 1. */
  private readonly open: number[] = [];

  /** Makes room for `n` more bytes. */
  need(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.at));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  /** Starts a message: nlmsghdr + nfgenmsg (family, version 0, res_id big-endian). */
  begin(type: number, flags: number, seq: number, family: number, resId = 0): void {
    this.need(20);
    this.open.push(-this.at - 1);
    const a = this.at;
    this.dv.setUint16(a + 4, type, true);
    this.dv.setUint16(a + 6, flags | NLM_F_REQUEST, true);
    this.dv.setUint32(a + 8, seq, true);
    this.dv.setUint32(a + 12, 0, true);
    this.buf[a + 16] = family;
    this.buf[a + 17] = 0;
    this.dv.setUint16(a + 18, resId, false);
    this.at = a + 20;
  }

  /** Ends the innermost open message or nested attribute, writing its length. */
  end(): void {
    const start = this.open.pop()!;
    if (start >= 0) this.dv.setUint16(start, this.at - start, true);
    else this.dv.setUint32(-start - 1, this.at + start + 1, true);
  }

  /** Starts a nested attribute (ended by end()). */
  nest(type: number): void {
    this.need(4);
    this.open.push(this.at);
    this.dv.setUint16(this.at + 2, type | NLA_F_NESTED, true);
    this.at += 4;
  }

  private header(type: number, len: number): number {
    this.need(4 + len + 3);
    const a = this.at;
    this.dv.setUint16(a, 4 + len, true);
    this.dv.setUint16(a + 2, type, true);
    return a + 4;
  }

  private pad(end: number): void {
    const aligned = (end + 3) & ~3;
    for (let i = end; i < aligned; i++) this.buf[i] = 0;
    this.at = aligned;
  }

  u32(type: number, v: number): void {
    const a = this.header(type, 4);
    this.dv.setUint32(a, v >>> 0, false);
    this.at = a + 4;
  }

  u64(type: number, v: number): void {
    const a = this.header(type, 8);
    this.dv.setUint32(a, Math.floor(v / 2 ** 32), false);
    this.dv.setUint32(a + 4, v >>> 0, false);
    this.at = a + 8;
  }

  u8(type: number, v: number): void {
    const a = this.header(type, 1);
    this.buf[a] = v;
    this.pad(a + 1);
  }

  /** A NUL-terminated string (names, comments are ASCII or UTF-8). */
  str(type: number, s: string): void {
    encoder ??= new TextEncoder();
    const bytes = encoder.encode(s);
    const a = this.header(type, bytes.length + 1);
    this.buf.set(bytes, a);
    this.buf[a + bytes.length] = 0;
    this.pad(a + bytes.length + 1);
  }

  bytes(type: number, b: Uint8Array): void {
    const a = this.header(type, b.length);
    this.buf.set(b, a);
    this.pad(a + b.length);
  }

  /** An attribute holding one value of `layout` written straight from its nft text (set element keys, data). */
  value(type: number, layout: Layout, text: string): void {
    const a = this.header(type, layout.len);
    writeValue(layout, text, this.buf, a);
    this.pad(a + layout.len);
  }

  /**
   * One set element, NFTA_LIST_ELEM { KEY { VALUE }, DATA { VALUE } }, written in one go: this runs 300,000
   * times in a full sync at 50,000 services (key and value lengths are multiples of 4, or 1 or 2 for a lone
   * inet_proto or inet_service key, padded).
   */
  element(key: Layout, keyText: string, value?: Layout, valueText?: string): void {
    const kp = (key.len + 3) & ~3;
    const vp = value ? (value.len + 3) & ~3 : 0;
    const len = 4 + 8 + kp + (value ? 8 + vp : 0);
    this.need(len);
    const a = this.at;
    const dv = this.dv;
    dv.setUint32(a, len | ((1 | NLA_F_NESTED) << 16), true);
    dv.setUint32(a + 4, (8 + kp) | ((1 | NLA_F_NESTED) << 16), true);
    dv.setUint32(a + 8, (4 + key.len) | (1 << 16), true);
    writeValue(key, keyText, this.buf, a + 12);
    if (value) {
      const b = a + 12 + kp;
      dv.setUint32(b, (8 + vp) | ((2 | NLA_F_NESTED) << 16), true);
      dv.setUint32(b + 4, (4 + value.len) | (1 << 16), true);
      writeValue(value, valueText!, this.buf, b + 8);
    }
    this.at = a + len;
  }

  /** The bytes written so far (a copy-free view). */
  done(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

/** Made on first use: the CNI plugin loads this module but, without ipMasq, never encodes a string with it. */
let encoder: TextEncoder | undefined;

import { type Layout, NotEncoded, writeIpv4 } from './types.js';
import type { Wire } from './wire.js';

/**
 * Elements of an interval set (`flags interval`) as nft 1.0.6 sends them (`nft --debug=mnl`), from their nft text
 * (`10.1.0.0/16`, `10.2.0.1-10.2.0.9`, `… . tcp . 80-90`):
 * - one field: a start element and an end element (NFT_SET_ELEM_INTERVAL_END) keyed one past the range; a range
 *   reaching the top of the type has no end element but the start's udata flag NFTNL_SET_ELEM_F_INTERVAL_OPEN;
 * - a concatenation: one element with KEY (every field's low end) and KEY_END (every field's high end).
 * Deleting sends the same elements.
 */

const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_FLAGS = 3;
const NFTA_SET_ELEM_USERDATA = 6;
const NFTA_SET_ELEM_KEY_END = 10;
const NFT_SET_ELEM_INTERVAL_END = 1;
const NESTED = 0x8000;
/** udata TLV { NFTNL_UDATA_SET_ELEM_FLAGS, 4, NFTNL_SET_ELEM_F_INTERVAL_OPEN }. */
const OPEN = Uint8Array.of(1, 4, 1, 0, 0, 0);

const scratch = new Uint8Array(32);

/** Writes the low and high ends of every field of `text` (fields separated by ` . `) at `lo`/`hi` of `out`,
 * where the bytes are still zero. */
function bounds(key: Layout, text: string, out: Uint8Array, lo: number, hi: number): void {
  const n = key.fields.length;
  let from = 0;
  for (let f = 0; f < n; f++) {
    const to = f === n - 1 ? text.length : text.indexOf(' . ', from);
    if (to < 0) throw new NotEncoded(`'${text}' has fewer fields than its type`);
    const t = key.fields[f]!;
    const at = key.concat ? f * 4 : 0;
    const dash = text.indexOf('-', from);
    const slash = text.indexOf('/', from);
    if (dash >= 0 && dash < to) {
      t.write(text, from, dash, out, lo + at);
      t.write(text, dash + 1, to, out, hi + at);
    } else if (slash >= 0 && slash < to) {
      if (t.write !== writeIpv4) throw new NotEncoded(`a prefix on a non-address field: '${text}'`);
      const prefix = Number(text.slice(slash + 1, to));
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new NotEncoded(`prefix in '${text}'`);
      writeIpv4(text, from, slash, out, lo + at);
      for (let b = 0; b < 4; b++) {
        const bits = Math.min(8, Math.max(0, prefix - b * 8));
        const mask = (0xff00 >> bits) & 0xff;
        out[lo + at + b] = out[lo + at + b]! & mask;
        out[hi + at + b] = out[lo + at + b]! | (~mask & 0xff);
      }
    } else {
      t.write(text, from, to, out, lo + at);
      t.write(text, from, to, out, hi + at);
    }
    from = to + 3;
  }
}

function keyAttr(w: Wire, type: number, bytes: Uint8Array): void {
  w.nest(type);
  w.bytes(1, bytes);
  w.end();
}

/** Writes the NFTA_LIST_ELEMs of one element of an interval set. */
export function writeIntervalElement(w: Wire, key: Layout, text: string): void {
  if (key.concat) {
    // NFTA_LIST_ELEM { KEY { VALUE lo }, KEY_END { VALUE hi } }, written in place (60,000 of them at 1,000
    // policies): the key length of a concatenation is a multiple of 4.
    const half = 8 + key.len;
    const len = 4 + 2 * half;
    w.need(len);
    const a = w.at;
    const dv = w.dv;
    dv.setUint32(a, len | ((1 | NESTED) << 16), true);
    dv.setUint32(a + 4, half | ((NFTA_SET_ELEM_KEY | NESTED) << 16), true);
    dv.setUint32(a + 8, (4 + key.len) | (1 << 16), true);
    dv.setUint32(a + 4 + half, half | ((NFTA_SET_ELEM_KEY_END | NESTED) << 16), true);
    dv.setUint32(a + 8 + half, (4 + key.len) | (1 << 16), true);
    bounds(key, text, w.buf, a + 12, a + 12 + half);
    w.at = a + len;
    return;
  }
  const both = scratch.subarray(0, 2 * key.len).fill(0);
  bounds(key, text, both, 0, key.len);
  const lo = both.subarray(0, key.len);
  const hi = both.subarray(key.len);
  // One past the high end, big-endian; all ones: the range is open at the top.
  let b = hi.length - 1;
  while (b >= 0 && hi[b] === 0xff) hi[b--] = 0;
  const open = b < 0;
  if (!open) hi[b]!++;
  w.nest(1);
  keyAttr(w, NFTA_SET_ELEM_KEY, lo);
  if (open) w.bytes(NFTA_SET_ELEM_USERDATA, OPEN);
  w.end();
  if (open) return;
  w.nest(1);
  w.u32(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
  keyAttr(w, NFTA_SET_ELEM_KEY, hi);
  w.end();
}

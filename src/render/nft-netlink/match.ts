import type { RuleCursor } from './cursor.js';
import {
  be32,
  bitwise,
  CMP,
  CT_BITS,
  cmp,
  data,
  ex,
  hton,
  le32,
  regOf,
  resize,
  type Selector,
} from './exprs.js';
import { concat, lookup, mapOf, selectorAt, setName } from './selector.js';
import { TYPES, writeIpv4 } from './types.js';

/** A match statement: selectors (or a concatenation of them) compared to a value, a set, or a verdict map. */
export function selectorMatch(c: RuleCursor): void {
  const s = selectorAt(c)!;
  const types = concat(c);
  if (c.accept('vmap')) lookup(c, mapOf(c, types, 'verdict'), 0);
  else if (c.peek()?.startsWith('@')) {
    const set = setName(c);
    const known = c.ctx.setTypes(set);
    if (!known || known.key !== types.join(' . ') || known.value !== undefined)
      throw c.fail(`set @${set} is not known as ${types.join(' . ')}`);
    // An interval concatenation compares big-endian words: nft turns a host-order protocol around first.
    if (known.interval && types.length > 1)
      for (let f = types.length - 1; f >= 0; f--)
        if (types[f] === 'inet_proto') c.exprs.splice(c.loads[f]! + 1, 0, hton(regOf(f), 1, 2));
    lookup(c, set);
  } else if (types.length === 1) match(c, s);
  else throw c.fail('a concatenation compared to a value');
}

/** A match on one loaded selector: `== v`, `!= v`, `v`, `& m == v`, `{ a, b }`, bits, ranges, prefixes. */
function match(c: RuleCursor, s: Selector): void {
  if (c.accept('&')) {
    const mask = Number(c.next());
    c.expect('==');
    const value = Number(c.next());
    c.exprs.push(bitwise(4, le32(mask)), cmp(1, CMP.eq, le32(value)));
    return;
  }
  let op: number = CMP.eq;
  if (c.accept('!=')) op = CMP.neq;
  else c.accept('==');
  const v = c.next();
  if (v === '{') anonSet(c, s, op);
  else if (s.type === 'ct_status' || s.type === 'ct_state') bits(c, s.type, v, op);
  else if (s.type === 'mark' && /^\d+-\d+$/.test(v)) markRange(c, v, op);
  else if (s.type === 'ipv4_addr' && v.includes('/')) prefix(c, v, op);
  else {
    const t = TYPES[s.type];
    if (!t) throw c.fail(`values of ${s.type} not encoded`);
    const b = new Uint8Array(t.len);
    t.write(v, 0, v.length, b, 0);
    c.exprs.push(cmp(1, op, b));
  }
}

/** `{ a, b }`: an anonymous constant set, created in the batch, and a lookup in it. */
function anonSet(c: RuleCursor, s: Selector, op: number): void {
  if (op !== CMP.eq || !s.typeof) throw c.fail('anonymous set not encoded here');
  const t = TYPES[s.type]!;
  const elements: Uint8Array[] = [];
  for (let e = c.next(); e !== '}'; e = c.next()) {
    if (e === ',') continue;
    const b = new Uint8Array(t.len);
    t.write(e, 0, e.length, b, 0);
    elements.push(b);
  }
  const id = c.ctx.nextSetId();
  const keyOrder = s.type === 'inet_proto' ? 1 : t.order; // meta l4proto: host order, as nft says
  const userdata = Uint8Array.of(0, 4, keyOrder, 0, 0, 0, 3, s.typeof.length, ...s.typeof);
  c.anon.push({ id, keyType: t.id, keyLen: t.len, elements, userdata });
  c.exprs.push(
    ex('lookup', (w) => {
      w.u32(2, 1);
      w.str(1, '__set%d');
      w.u32(4, id);
    }),
  );
}

/** `ct state established,related`: any of the named bits set (`!=`: none of them). */
function bits(c: RuleCursor, type: string, first: string, op: number): void {
  let mask = 0;
  for (let name = first; ; name = c.next()) {
    const b = CT_BITS[type]![name];
    if (b === undefined) throw c.fail(`unknown ${type} '${name}'`);
    mask |= b;
    if (!c.accept(',')) break;
  }
  c.exprs.push(bitwise(4, le32(mask)), cmp(1, op === CMP.eq ? CMP.neq : CMP.eq, le32(0)));
}

/** `meta mark 16-31`: the host-order mark turned big-endian, then a range. */
function markRange(c: RuleCursor, v: string, op: number): void {
  const [from, to] = v.split('-').map(Number) as [number, number];
  c.exprs.push(
    ex('byteorder', (w) => {
      w.u32(1, 1);
      w.u32(2, 1);
      w.u32(3, 1);
      w.u32(4, 4);
      w.u32(5, 4);
    }),
    ex('range', (w) => {
      w.u32(1, 1);
      w.u32(2, op);
      data(w, 3, be32(from));
      data(w, 4, be32(to));
    }),
  );
}

/** `ip daddr 10.0.0.0/8`: the prefix's bytes, or for an odd length the masked address. */
function prefix(c: RuleCursor, v: string, op: number): void {
  const [addr, lenText] = v.split('/') as [string, string];
  const len = Number(lenText);
  const full = new Uint8Array(4);
  writeIpv4(addr, 0, addr.length, full, 0);
  if (!Number.isInteger(len) || len < 1 || len > 32) throw c.fail(`prefix /${lenText}`);
  if (len % 8 === 0) {
    // nft loads only the prefix's bytes and compares them (`payload load 2b` for a /16).
    const bytes = len / 8;
    c.exprs[c.exprs.length - 1] = resize(c.exprs.at(-1)!, bytes);
    c.exprs.push(cmp(1, op, full.subarray(0, bytes)));
  } else {
    // Otherwise the whole address, masked, against the masked network.
    const mask = be32(len === 32 ? 0xffffffff : ~(0xffffffff >>> len));
    for (let b = 0; b < 4; b++) full[b] = full[b]! & mask[b]!;
    c.exprs.push(bitwise(4, mask), cmp(1, op, full));
  }
}

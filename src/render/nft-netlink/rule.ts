import {
  be32,
  bitwise,
  CMP,
  CT_BITS,
  cmp,
  data,
  type Expr,
  ex,
  hton,
  le32,
  log,
  nfprotoIpv4,
  objref,
  regOf,
  resize,
  SELECTORS,
  type Selector,
  VERDICTS,
  verdict,
} from './exprs.js';
import { NotEncoded, TYPES, writeIpv4 } from './types.js';

export type { Expr } from './exprs.js';

/**
 * A rule's statements in nft syntax (`meta mark set ip daddr . th dport map @m`) as the kernel expressions nft
 * itself sends for them (what `nft --debug=netlink` prints): payload, meta, ct, fib loads into registers, then
 * cmp, bitwise, range, byteorder, lookup, numgen, dynset, nat, masq, reject, immediate. Only the grammar podnet's
 * tables use; anything else throws NotEncoded and the transaction goes to `nft -f` instead.
 */

/** An anonymous constant set a rule uses (`meta l4proto { tcp, udp }`), created in the same batch. */
export interface AnonSet {
  readonly id: number;
  readonly keyType: number;
  readonly keyLen: number;
  readonly elements: readonly Uint8Array[];
  readonly userdata: Uint8Array;
}

export interface RuleContext {
  /** The key and value types of a named set or map (`ipv4_addr . inet_service`), undefined when unknown. */
  readonly setTypes: (name: string) => { key: string; value?: string; interval?: boolean } | undefined;
  /** The table's family: an `ip …` match in an inet table needs nft's `meta nfproto ipv4` dependency first. */
  readonly family?: 'ip' | 'ip6' | 'inet';
  /** A fresh transaction-local set id. */
  readonly nextSetId: () => number;
}

/** Compiles one rule; anonymous sets it needs are returned to be created before it. */
export function compileRule(text: string, ctx: RuleContext): { exprs: Expr[]; anon: AnonSet[] } {
  const tokens = text.match(/"[^"]*"|[{},:]|[^\s{},:]+/g) ?? [];
  let i = 0;
  const peek = (k = 0) => tokens[i + k];
  const next = () => {
    const t = tokens[i++];
    if (t === undefined) throw new NotEncoded(`rule '${text}' ends early`);
    return t;
  };
  const expect = (t: string) => {
    if (next() !== t) throw new NotEncoded(`rule '${text}': expected '${t}'`);
  };
  const exprs: Expr[] = [];
  const anon: AnonSet[] = [];

  const selectorAt = (): Selector | undefined => SELECTORS[`${peek()} ${peek(1)}`];
  let needsNfproto = ctx.family === 'inet';
  /** Where the last concat() loaded each field (exprs index), for a byte-order fix after it. */
  let loads: number[] = [];
  /** `a . b . c`: selectors loaded into consecutive words from `word`; returns their data types. */
  const concat = (word = 0): string[] => {
    const types: string[] = [];
    loads = [];
    for (let k = i; needsNfproto && k < tokens.length; k += 3) {
      if (tokens[k] === 'ip') {
        exprs.push(...nfprotoIpv4());
        needsNfproto = false;
      }
      if (tokens[k + 2] !== '.') break;
    }
    for (;;) {
      const s = selectorAt();
      if (!s) throw new NotEncoded(`rule '${text}': '${peek()} ${peek(1)}' is not an encoded selector`);
      i += 2;
      loads.push(exprs.length);
      exprs.push(s.load(regOf(word + types.length)));
      types.push(s.type);
      if (peek() !== '.') return types;
      i++;
    }
  };
  const setName = () => {
    const t = next();
    if (!t.startsWith('@')) throw new NotEncoded(`rule '${text}': expected a set reference`);
    return t.slice(1);
  };
  const lookup = (set: string, dreg?: number, invert = false) =>
    exprs.push(
      ex('lookup', (w) => {
        w.u32(2, 1);
        if (dreg !== undefined) w.u32(3, dreg);
        w.str(1, set);
        if (invert) w.u32(5, 1);
      }),
    );
  const mapOf = (keyTypes: string[], want: string) => {
    const set = setName();
    const t = ctx.setTypes(set);
    if (!t || t.key !== keyTypes.join(' . ') || t.value !== want)
      throw new NotEncoded(`rule '${text}': map @${set} is not known as ${keyTypes.join(' . ')} : ${want}`);
    return set;
  };

  /** A match on one selector: `== v`, `!= v`, `v`, `& m == v`, `@set`, `vmap @m`, `{ a, b }`, ranges, prefixes. */
  const match = (s: Selector) => {
    let op: number = CMP.eq;
    if (peek() === '&') {
      i++;
      const mask = Number(next());
      expect('==');
      const value = Number(next());
      exprs.push(bitwise(4, le32(mask)), cmp(1, CMP.eq, le32(value)));
      return;
    }
    if (peek() === '==') i++;
    else if (peek() === '!=') {
      i++;
      op = CMP.neq;
    }
    const v = next();
    if (v === '{') {
      if (op !== CMP.eq || !s.typeof) throw new NotEncoded(`rule '${text}': anonymous set not encoded here`);
      const t = TYPES[s.type]!;
      const elements: Uint8Array[] = [];
      for (let e = next(); e !== '}'; e = next()) {
        if (e === ',') continue;
        const b = new Uint8Array(t.len);
        t.write(e, 0, e.length, b, 0);
        elements.push(b);
      }
      const id = ctx.nextSetId();
      const keyOrder = s.type === 'inet_proto' ? 1 : t.order; // meta l4proto: host order, as nft says
      const userdata = Uint8Array.of(0, 4, keyOrder, 0, 0, 0, 3, s.typeof.length, ...s.typeof);
      anon.push({ id, keyType: t.id, keyLen: t.len, elements, userdata });
      exprs.push(
        ex('lookup', (w) => {
          w.u32(2, 1);
          w.str(1, '__set%d');
          w.u32(4, id);
        }),
      );
      return;
    }
    if (s.type === 'ct_status' || s.type === 'ct_state') {
      let bits = 0;
      for (let name = v; ; name = next()) {
        const b = CT_BITS[s.type]![name];
        if (b === undefined) throw new NotEncoded(`rule '${text}': unknown ${s.type} '${name}'`);
        bits |= b;
        if (peek() !== ',') break;
        i++;
      }
      exprs.push(bitwise(4, le32(bits)), cmp(1, op === CMP.eq ? CMP.neq : CMP.eq, le32(0)));
      return;
    }
    if (s.type === 'mark' && /^\d+-\d+$/.test(v)) {
      const [from, to] = v.split('-').map(Number) as [number, number];
      exprs.push(
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
      return;
    }
    if (s.type === 'ipv4_addr' && v.includes('/')) {
      const [addr, lenText] = v.split('/') as [string, string];
      const prefix = Number(lenText);
      const full = new Uint8Array(4);
      writeIpv4(addr, 0, addr.length, full, 0);
      if (!Number.isInteger(prefix) || prefix < 1 || prefix > 32)
        throw new NotEncoded(`rule '${text}': prefix /${lenText}`);
      if (prefix % 8 === 0) {
        // nft loads only the prefix's bytes and compares them (`payload load 2b` for a /16).
        const bytes = prefix / 8;
        exprs[exprs.length - 1] = resize(exprs.at(-1)!, bytes);
        exprs.push(cmp(1, op, full.subarray(0, bytes)));
      } else {
        // Otherwise the whole address, masked, against the masked network.
        const mask = be32(prefix === 32 ? 0xffffffff : ~(0xffffffff >>> prefix));
        for (let b = 0; b < 4; b++) full[b] = full[b]! & mask[b]!;
        exprs.push(bitwise(4, mask), cmp(1, op, full));
      }
      return;
    }
    const t = TYPES[s.type];
    if (!t) throw new NotEncoded(`rule '${text}': values of ${s.type} not encoded`);
    const b = new Uint8Array(t.len);
    t.write(v, 0, v.length, b, 0);
    exprs.push(cmp(1, op, b));
  };

  while (i < tokens.length) {
    const t = peek()!;
    if (t in VERDICTS) {
      i++;
      exprs.push(verdict(VERDICTS[t]!));
    } else if (t === 'jump' || t === 'goto') {
      i++;
      exprs.push(verdict(t === 'jump' ? -3 : -4, next()));
    } else if (t === 'counter' && peek(1) === 'name') {
      i += 2;
      exprs.push(objref(next()));
    } else if (t === 'log') {
      i++;
      let prefix: string | undefined;
      let group: number | undefined;
      for (;;) {
        if (peek() === 'prefix') {
          i++;
          const p = next();
          if (!/^"[^"]*"$/.test(p)) throw new NotEncoded(`rule '${text}': log prefix`);
          prefix = p.slice(1, -1);
        } else if (peek() === 'group') {
          i++;
          group = Number(next());
          if (!Number.isInteger(group) || group < 0 || group > 0xffff)
            throw new NotEncoded(`rule '${text}': log group`);
        } else break;
      }
      exprs.push(log(prefix, group));
    } else if (t === 'masquerade') {
      i++;
      const random = peek() === 'fully-random';
      if (random) i++;
      exprs.push(
        ex('masq', (w) => {
          if (random) w.u32(1, 0x10);
        }),
      );
    } else if (t === 'reject') {
      i++;
      let type = 0;
      let code = 3; // ICMP port unreachable
      if (peek() === 'with') {
        i++;
        if (`${next()} ${next()}` !== 'tcp reset') throw new NotEncoded(`rule '${text}': reject kind`);
        type = 1;
        code = 0;
      }
      exprs.push(
        ex('reject', (w) => {
          w.u32(1, type);
          w.u8(2, code);
        }),
      );
    } else if (t === 'fib') {
      i++;
      if (`${next()} ${next()} ${next()}` !== 'daddr type local') throw new NotEncoded(`rule '${text}': fib`);
      exprs.push(
        ex('fib', (w) => {
          w.u32(3, 2);
          w.u32(2, 3);
          w.u32(1, 1);
        }),
        cmp(1, CMP.eq, le32(2)),
      );
    } else if (t === 'dnat') {
      i++;
      expect('to');
      const key = concat();
      expect('map');
      const value = 'ipv4_addr . inet_service';
      const set = mapOf(key, value);
      lookup(set, 1);
      exprs.push(
        ex('nat', (w) => {
          w.u32(1, 1);
          w.u32(2, 2);
          w.u32(3, 1);
          w.u32(5, 9);
        }),
      );
    } else if (t === 'update') {
      i++;
      const set = setName();
      expect('{');
      const key = concat();
      expect('timeout');
      const timeout = /^(\d+)s$/.exec(next());
      if (!timeout) throw new NotEncoded(`rule '${text}': timeout`);
      expect(':');
      const dataWord = Math.ceil(key.length / 4) * 4;
      const value = concat(dataWord);
      expect('}');
      const known = ctx.setTypes(set);
      if (!known || known.key !== key.join(' . ') || known.value !== value.join(' . '))
        throw new NotEncoded(`rule '${text}': @${set} types`);
      exprs.push(
        ex('dynset', (w) => {
          w.u32(4, 1);
          w.u32(5, regOf(dataWord));
          w.u32(3, 1);
          w.u64(6, Number(timeout[1]) * 1000);
          w.str(1, set);
        }),
      );
    } else if (t === 'meta' && peek(1) === 'mark' && peek(2) === 'set') {
      i += 3;
      if (peek() === 'numgen') {
        i++;
        expect('random');
        expect('mod');
        const mod = Number(next());
        let offset = 0;
        if (peek() === 'offset') {
          i++;
          offset = Number(next());
        }
        exprs.push(
          ex('numgen', (w) => {
            w.u32(1, 1);
            w.u32(2, mod);
            w.u32(3, 1);
            w.u32(4, offset);
          }),
        );
      } else {
        const key = concat();
        expect('map');
        lookup(mapOf(key, 'mark'), 1);
      }
      exprs.push(
        ex('meta', (w) => {
          w.u32(2, 3);
          w.u32(3, 1);
        }),
      );
    } else if (selectorAt()) {
      const s = selectorAt()!;
      const types = concat();
      if (peek() === 'vmap') {
        i++;
        lookup(mapOf(types, 'verdict'), 0);
      } else if (peek()?.startsWith('@')) {
        const set = setName();
        const known = ctx.setTypes(set);
        if (!known || known.key !== types.join(' . ') || known.value !== undefined)
          throw new NotEncoded(`rule '${text}': set @${set} is not known as ${types.join(' . ')}`);
        // An interval concatenation compares big-endian words: nft turns a host-order protocol around first.
        if (known.interval && types.length > 1)
          for (let f = types.length - 1; f >= 0; f--)
            if (types[f] === 'inet_proto') exprs.splice(loads[f]! + 1, 0, hton(regOf(f), 1, 2));
        lookup(set);
      } else if (types.length === 1) match(s);
      else throw new NotEncoded(`rule '${text}': a concatenation compared to a value`);
    } else throw new NotEncoded(`rule '${text}': statement '${t}' is not encoded`);
  }
  return { exprs, anon };
}

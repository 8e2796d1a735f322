import type { NftChain, NftCounter, NftSet } from '../../plan/nft.js';
import type { AnonSet } from './rule.js';
import { type Layout, NotEncoded, setUserdata } from './types.js';
import type { Wire } from './wire.js';

/**
 * The attributes of nftables objects other than rules and elements, as nft 1.0.6 sends them (nf_tables.h):
 * a set's declaration (flags, types, NFTA_SET_DESC, udata), a named counter, a base chain's hook, a verdict,
 * an anonymous set. Written into a message batch.ts has begun.
 */

export const NFT_SET = {
  anonymous: 1,
  constant: 2,
  interval: 4,
  map: 8,
  timeout: 0x10,
  dynamic: 0x20,
  concat: 0x80,
} as const;
const NFT_OBJECT_COUNTER = 1;
const NFT_DATA_VERDICT = 0xffffff00;
const PRIORITIES: Record<string, number> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};
const HOOKS = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 } as const;
const VERDICT_CODES: Record<string, number> = { accept: 1, drop: 0, return: -5, continue: -1 };

export interface SetInfo {
  readonly key: Layout;
  readonly value: Layout | 'verdict' | undefined;
  readonly spec: { key: string; value?: string; interval: boolean };
}

/** NEWSET's attributes (after the message header) for the declaration `s`, transaction-local id `id`. */
export function writeSetAttrs(w: Wire, s: NftSet, info: SetInfo, id: number): void {
  let flags = s.value !== undefined ? NFT_SET.map : 0;
  for (const fl of s.flags ?? []) {
    if (fl === 'dynamic' || fl === 'timeout' || fl === 'interval') flags |= NFT_SET[fl];
    else throw new NotEncoded(`set flag '${fl}' is not encoded`);
  }
  const intervalConcat = info.spec.interval && info.key.concat;
  if (intervalConcat) flags |= NFT_SET.concat;
  if (info.spec.interval && info.value !== undefined)
    throw new NotEncoded(`interval map ${s.set} is not encoded`);
  w.str(1, s.table);
  w.str(2, s.set);
  w.u32(3, flags);
  w.u32(4, info.key.id);
  w.u32(5, info.key.len);
  if (info.value === 'verdict') {
    w.u32(6, NFT_DATA_VERDICT);
    w.u32(7, 0);
  } else if (info.value) {
    w.u32(6, info.value.id);
    w.u32(7, info.value.len);
  }
  if (s.size !== undefined || intervalConcat) {
    w.nest(9);
    if (s.size !== undefined) w.u32(1, s.size);
    if (intervalConcat) {
      // NFTA_SET_DESC_CONCAT: each field's own length (the kernel's pipapo set needs them).
      w.nest(2);
      for (const f of info.key.fields) {
        w.nest(1);
        w.u32(1, f.len);
        w.end();
      }
      w.end();
    }
    w.end();
  }
  w.u32(10, id);
  w.bytes(13, setUserdata(info.key, info.value, s.comment));
}

/** NEWOBJ / DELOBJ of a named counter: NFTA_OBJ_TABLE, NAME, TYPE, and for a new one DATA { BYTES 0, PACKETS 0 }. */
export function writeCounterAttrs(w: Wire, o: NftCounter, add: boolean): void {
  w.str(1, o.table);
  w.str(2, o.counter);
  w.u32(3, NFT_OBJECT_COUNTER);
  if (add) {
    w.nest(4);
    w.u64(1, 0);
    w.u64(2, 0);
    w.end();
  }
}

export function writeHook(w: Wire, ch: NftChain): void {
  const b = ch.base!;
  const prio = PRIORITIES[b.priority] ?? Number(b.priority);
  if (!Number.isInteger(prio)) throw new NotEncoded(`chain priority '${b.priority}' is not encoded`);
  w.str(7, b.type);
  w.u32(5, b.policy === 'drop' ? 0 : 1);
  w.nest(4);
  w.u32(1, HOOKS[b.hook]);
  w.u32(2, prio);
  w.end();
}

/** `goto chain`, `jump chain`, `accept`, …: NFTA_DATA_VERDICT { code, chain }. */
export function writeVerdict(w: Wire, text: string): void {
  const sp = text.indexOf(' ');
  const word = sp < 0 ? text : text.slice(0, sp);
  w.nest(2);
  if (word === 'goto' || word === 'jump') {
    w.u32(1, word === 'jump' ? -3 : -4);
    w.str(2, text.slice(sp + 1));
  } else if (word in VERDICT_CODES && sp < 0) w.u32(1, VERDICT_CODES[word]!);
  else throw new NotEncoded(`verdict '${text}' is not encoded`);
  w.end();
}

export function writeAnonSet(
  w: Wire,
  a: AnonSet,
  table: string,
  _family: number,
  newSet: () => void,
  newElems: () => void,
): void {
  newSet();
  w.str(1, table);
  w.str(2, '__set%d');
  w.u32(3, NFT_SET.anonymous | NFT_SET.constant);
  w.u32(4, a.keyType);
  w.u32(5, a.keyLen);
  w.u32(10, a.id);
  w.nest(9);
  w.u32(1, a.elements.length);
  w.end();
  w.bytes(13, a.userdata);
  w.end();
  newElems();
  w.str(1, table);
  w.str(2, '__set%d');
  w.u32(4, a.id);
  w.nest(3);
  for (const e of a.elements) {
    w.nest(1);
    w.nest(1);
    w.bytes(1, e);
    w.end();
    w.end();
  }
  w.end();
  w.end();
}

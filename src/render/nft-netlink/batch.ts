import type { NetfilterBatch, NetfilterRequest } from '../../exec/runner.js';
import type { NftCmd, NftSet, NftTableRef } from '../../plan/nft.js';
import { MAPS } from '../../plan/services/nft-layout.js';
import { writeIntervalElement } from './intervals.js';
import {
  type SetInfo,
  writeAnonSet,
  writeCounterAttrs,
  writeHook,
  writeSetAttrs,
  writeVerdict,
} from './objects.js';
import { compileRule } from './rule.js';
import { layoutOf, NotEncoded } from './types.js';
import {
  FAMILY,
  NFNL_MSG_BATCH_BEGIN,
  NFNL_MSG_BATCH_END,
  NFNL_SUBSYS_NFTABLES,
  NFT_MSG,
  NLM_F_ACK,
  NLM_F_APPEND,
  NLM_F_CREATE,
  Wire,
} from './wire.js';

/**
 * A transaction (src/plan/nft.ts) as ONE nfnetlink batch: BATCH_BEGIN, one message per command (elements split
 * so no attribute outgrows netlink's 16-bit length), BATCH_END. The kernel applies it all or nothing, as
 * `nft -f` does with the same commands; the `nft -f` text (render/nft.ts) stays the printed explanation.
 * Throws NotEncoded for what is not encoded yet (the caller then runs `nft -f`). Pure.
 */

export type NftBatch = NetfilterBatch;

/** Sets whose types a partial sync's elements need when the transaction does not declare them. */
export const KNOWN_SETS: readonly NftSet[] = MAPS;

/** Bytes of elements per message: NFTA_SET_ELEM_LIST_ELEMENTS is one attribute, at most 65,535 bytes. */
const ELEMENTS_PER_MESSAGE_BYTES = 60000;

/** Declarations of sets a partial transaction uses but does not declare (the policy table's, by name). */
export type SetResolver = (table: NftTableRef, set: string) => NftSet | undefined;

const ref = (r: NftTableRef, name: string) => `${r.family} ${r.table} ${name}`;

export function encodeNftBatch(tx: readonly NftCmd[], known = KNOWN_SETS, resolve?: SetResolver): NftBatch {
  let seq = 0;
  let size = 1 << 16;
  for (const c of tx) if ('elements' in c) size += c.elements.elements.length * 40;
  const w = new Wire(size);
  const cmdOf: number[] = [];
  const firstSeq = seq;
  const sets = new Map<string, SetInfo>();
  const declare = (s: NftSet): SetInfo => {
    const value = s.value === undefined ? undefined : s.value === 'verdict' ? 'verdict' : layoutOf(s.value);
    const interval = s.flags?.includes('interval') ?? false;
    const info: SetInfo = {
      key: layoutOf(s.key),
      value,
      spec: { key: s.key, ...(s.value !== undefined ? { value: s.value } : {}), interval },
    };
    sets.set(ref(s, s.set), info);
    return info;
  };
  for (const s of known) declare(s);
  const setInfo = (r: NftTableRef, name: string): SetInfo | undefined => {
    const got = sets.get(ref(r, name));
    if (got || !resolve) return got;
    const s = resolve(r, name);
    return s && declare(s);
  };
  let setId = 0;
  let lastAt = 0;
  const msg = (cmd: number, type: number, flags: number, family: number) => {
    lastAt = w.at;
    w.begin((NFNL_SUBSYS_NFTABLES << 8) | type, flags, seq++, family);
    cmdOf.push(cmd);
  };

  w.begin(NFNL_MSG_BATCH_BEGIN, 0, seq++, 0, NFNL_SUBSYS_NFTABLES);
  w.end();
  cmdOf.push(-1);
  tx.forEach((c, index) => {
    if (c.verb === 'note') return;
    if ('table' in c) {
      const f = FAMILY[c.table.family];
      if (c.verb === 'add') {
        msg(index, NFT_MSG.NEWTABLE, NLM_F_CREATE, f);
        w.str(1, c.table.table);
        w.u32(2, 0);
      } else if (c.verb === 'delete') {
        msg(index, NFT_MSG.DELTABLE, 0, f);
        w.str(1, c.table.table);
      } else {
        msg(index, NFT_MSG.DELRULE, 0, f);
        w.str(1, c.table.table);
      }
      w.end();
    } else if ('chain' in c) {
      const ch = c.chain;
      const f = FAMILY[ch.family];
      if (c.verb === 'add') {
        msg(index, NFT_MSG.NEWCHAIN, NLM_F_CREATE, f);
        w.str(1, ch.table);
        w.str(3, ch.chain);
        if (ch.base) writeHook(w, ch);
      } else if (c.verb === 'flush') {
        msg(index, NFT_MSG.DELRULE, 0, f);
        w.str(1, ch.table);
        w.str(2, ch.chain);
      } else {
        msg(index, NFT_MSG.DELCHAIN, 0, f);
        w.str(1, ch.table);
        w.str(3, ch.chain);
      }
      w.end();
    } else if ('counter' in c) {
      const o = c.counter;
      msg(
        index,
        c.verb === 'add' ? NFT_MSG.NEWOBJ : NFT_MSG.DELOBJ,
        c.verb === 'add' ? NLM_F_CREATE : 0,
        FAMILY[o.family],
      );
      writeCounterAttrs(w, o, c.verb === 'add');
      w.end();
    } else if ('set' in c && c.verb === 'delete') {
      msg(index, NFT_MSG.DELSET, 0, FAMILY[c.set.family]);
      w.str(1, c.set.table);
      w.str(2, c.set.set);
      w.end();
    } else if ('set' in c) {
      const s = c.set;
      const info = declare(s);
      msg(index, NFT_MSG.NEWSET, NLM_F_CREATE, FAMILY[s.family]);
      writeSetAttrs(w, s, info, ++setId);
      w.end();
    } else if ('rule' in c) {
      const r = c.rule;
      const f = FAMILY[r.family];
      const { exprs, anon } = compileRule(r.expr, {
        setTypes: (name) => setInfo(r, name)?.spec,
        family: r.family,
        nextSetId: () => ++setId,
      });
      for (const a of anon)
        writeAnonSet(
          w,
          a,
          r.table,
          f,
          () => msg(index, NFT_MSG.NEWSET, NLM_F_CREATE, f),
          () => msg(index, NFT_MSG.NEWSETELEM, NLM_F_CREATE, f),
        );
      msg(index, NFT_MSG.NEWRULE, NLM_F_CREATE | NLM_F_APPEND, f);
      w.str(1, r.table);
      w.str(2, r.chain);
      w.nest(4);
      for (const e of exprs) {
        w.nest(1);
        w.str(1, e.name);
        w.nest(2);
        e.attrs(w);
        w.end();
        w.end();
      }
      w.end();
      if (r.comment !== undefined) {
        const text = new TextEncoder().encode(r.comment);
        if (text.length + 1 > 255) throw new NotEncoded('rule comment longer than 254 bytes');
        w.bytes(7, Uint8Array.of(0, text.length + 1, ...text, 0));
      }
      w.end();
    } else {
      const e = c.elements;
      const info = setInfo(e, e.set);
      if (!info) throw new NotEncoded(`elements of set ${e.set}, whose types are not known`);
      const type = c.verb === 'add' ? NFT_MSG.NEWSETELEM : NFT_MSG.DELSETELEM;
      const flags = c.verb === 'add' ? NLM_F_CREATE : 0;
      const f = FAMILY[e.family];
      let open = false;
      let listStart = 0;
      for (const el of e.elements) {
        if (!open) {
          msg(index, type, flags, f);
          w.str(1, e.table);
          w.str(2, e.set);
          w.nest(3);
          listStart = w.at;
          open = true;
        }
        if (info.spec.interval) writeIntervalElement(w, info.key, el.key);
        else if (c.verb === 'add' && info.value === 'verdict') {
          w.nest(1);
          w.nest(1);
          w.value(1, info.key, el.key);
          w.end();
          w.nest(2);
          writeVerdict(w, el.value ?? '');
          w.end();
          w.end();
        } else if (c.verb === 'add' && info.value !== undefined && info.value !== 'verdict') {
          if (el.value === undefined) throw new NotEncoded(`map ${e.set}: element '${el.key}' has no value`);
          w.element(info.key, el.key, info.value, el.value);
        } else w.element(info.key, el.key);
        if (w.at - listStart > ELEMENTS_PER_MESSAGE_BYTES) {
          w.end();
          w.end();
          open = false;
        }
      }
      if (open) {
        w.end();
        w.end();
      }
    }
  });
  // The last real message asks for an acknowledgement: its answer ends the kernel's replies to this batch.
  const lastSeq = seq - 1;
  if (lastSeq > firstSeq) w.dv.setUint16(lastAt + 6, w.dv.getUint16(lastAt + 6, true) | NLM_F_ACK, true);
  w.begin(NFNL_MSG_BATCH_END, 0, seq++, 0, NFNL_SUBSYS_NFTABLES);
  w.end();
  cmdOf.push(-1);
  return { bytes: w.done(), firstSeq, lastSeq, cmdOf: Int32Array.from(cmdOf) };
}

/** The netlink form of an `nft.tx` op's command (render/index.ts): encoded only when a runner asks. */
export function netfilterRequest(
  netnsPath: string | undefined,
  tx: readonly NftCmd[],
  describe: (index: number) => string,
  resolve?: SetResolver,
): NetfilterRequest {
  return {
    ...(netnsPath !== undefined ? { netnsPath } : {}),
    encode: () => {
      try {
        return encodeNftBatch(tx, KNOWN_SETS, resolve);
      } catch (e) {
        if (e instanceof NotEncoded) return undefined;
        throw e;
      }
    },
    describe,
  };
}

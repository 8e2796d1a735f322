import type { RuleCursor } from './cursor.js';
import { CMP, cmp, ex, le32, log, objref, regOf, VERDICTS, verdict } from './exprs.js';
import { concat, mapValue, setName } from './selector.js';

/** The statements other than matches: verdicts, counter, log, masquerade, reject, fib, dnat, set update, mark set. */

type Statement = (c: RuleCursor) => void;

/**
 * The statement at the cursor, keyed by its first token; undefined when none is (it may still be a match).
 * `counter` and `meta` are statements only as `counter name …` and `meta mark set …`.
 */
export function statementAt(c: RuleCursor): Statement | undefined {
  const t = c.peek()!;
  if (t in VERDICTS) return verdictStatement;
  if (t === 'counter') return c.peek(1) === 'name' ? counter : undefined;
  if (t === 'meta') return c.peek(1) === 'mark' && c.peek(2) === 'set' ? markSet : undefined;
  return Object.hasOwn(STATEMENTS, t) ? STATEMENTS[t] : undefined;
}

const verdictStatement: Statement = (c) => {
  c.exprs.push(verdict(VERDICTS[c.next()]!));
};

const counter: Statement = (c) => {
  c.skip(2);
  c.exprs.push(objref(c.next()));
};

const STATEMENTS: Record<string, Statement> = {
  jump: (c) => {
    c.skip();
    c.exprs.push(verdict(-3, c.next()));
  },
  goto: (c) => {
    c.skip();
    c.exprs.push(verdict(-4, c.next()));
  },
  log: (c) => {
    c.skip();
    let prefix: string | undefined;
    let group: number | undefined;
    for (;;) {
      if (c.accept('prefix')) {
        const p = c.next();
        if (!/^"[^"]*"$/.test(p)) throw c.fail('log prefix');
        prefix = p.slice(1, -1);
      } else if (c.accept('group')) {
        group = Number(c.next());
        if (!Number.isInteger(group) || group < 0 || group > 0xffff) throw c.fail('log group');
      } else break;
    }
    c.exprs.push(log(prefix, group));
  },
  masquerade: (c) => {
    c.skip();
    const random = c.accept('fully-random');
    c.exprs.push(
      ex('masq', (w) => {
        if (random) w.u32(1, 0x10);
      }),
    );
  },
  reject: (c) => {
    c.skip();
    let type = 0;
    let code = 3; // ICMP port unreachable
    if (c.accept('with')) {
      if (`${c.next()} ${c.next()}` !== 'tcp reset') throw c.fail('reject kind');
      type = 1;
      code = 0;
    }
    c.exprs.push(
      ex('reject', (w) => {
        w.u32(1, type);
        w.u8(2, code);
      }),
    );
  },
  fib: (c) => {
    c.skip();
    if (`${c.next()} ${c.next()} ${c.next()}` !== 'daddr type local') throw c.fail('fib');
    c.exprs.push(
      ex('fib', (w) => {
        w.u32(3, 2);
        w.u32(2, 3);
        w.u32(1, 1);
      }),
      cmp(1, CMP.eq, le32(2)),
    );
  },
  dnat: (c) => {
    c.skip();
    c.expect('to');
    mapValue(c, 'ipv4_addr . inet_service');
    c.exprs.push(
      ex('nat', (w) => {
        w.u32(1, 1);
        w.u32(2, 2);
        w.u32(3, 1);
        w.u32(5, 9);
      }),
    );
  },
  update: (c) => {
    c.skip();
    const set = setName(c);
    c.expect('{');
    const key = concat(c);
    c.expect('timeout');
    const timeout = /^(\d+)s$/.exec(c.next());
    if (!timeout) throw c.fail('timeout');
    c.expect(':');
    const dataWord = Math.ceil(key.length / 4) * 4;
    const value = concat(c, dataWord);
    c.expect('}');
    const known = c.ctx.setTypes(set);
    if (!known || known.key !== key.join(' . ') || known.value !== value.join(' . '))
      throw c.fail(`@${set} types`);
    c.exprs.push(
      ex('dynset', (w) => {
        w.u32(4, 1);
        w.u32(5, regOf(dataWord));
        w.u32(3, 1);
        w.u64(6, Number(timeout[1]) * 1000);
        w.str(1, set);
      }),
    );
  },
};

/** `meta mark set numgen random mod N [offset O]` or `meta mark set <concat> map @m`. */
const markSet: Statement = (c) => {
  c.skip(3);
  if (c.accept('numgen')) {
    c.expect('random');
    c.expect('mod');
    const mod = Number(c.next());
    const offset = c.accept('offset') ? Number(c.next()) : 0;
    c.exprs.push(
      ex('numgen', (w) => {
        w.u32(1, 1);
        w.u32(2, mod);
        w.u32(3, 1);
        w.u32(4, offset);
      }),
    );
  } else mapValue(c, 'mark');
  c.exprs.push(
    ex('meta', (w) => {
      w.u32(2, 3);
      w.u32(3, 1);
    }),
  );
};

import { NftSession } from '../src/apply/nft-session.js';
import type { NetfilterSender } from '../src/exec/netlink/nft-batch.js';
import { renderNftTx } from '../src/render/nft.js';
import { netfilterRequest } from '../src/render/nft-netlink/batch.js';
import { renderNftFull } from '../src/render/nft-proxy.js';
import { type ChangeTimes, StoreChanges } from './services-store.js';
import { fmtMs, median, table } from './stats.js';

/** The services bench's agent path (`--modes agent`): one endpoint change from the store event to the kernel. */

export interface AgentChanges {
  readonly builder: Change[];
  readonly whole: Change[];
  readonly netlink: Change[];
}

export type Change = ChangeTimes & { total: number; kernel: number };

/**
 * One endpoint change as the node agent makes it, end to end: the watch event into its cache, the proxy model
 * (the builder's, or rebuilt whole from the store as before), planning, rendering, and the transaction through
 * the nft session or, when the addon loads, one netlink batch, on a table loaded from the same store; the ways
 * alternate, so all see the same load.
 */
export async function agentPath(
  n: number,
  node: string,
  log: (s: string) => void,
  sender: NetfilterSender | undefined,
): Promise<AgentChanges> {
  const t0 = performance.now();
  const store = new StoreChanges(n);
  log(`agent path ${n}: store of ${n} Services and slices built in ${fmtMs(performance.now() - t0)}`);
  const session = await NftSession.open(`/run/netns/${node}`);
  const out = { builder: [] as Change[], whole: [] as Change[], netlink: [] as Change[] };
  try {
    await session.apply(renderNftFull(store.last));
    const wholeEvery = n >= 50000 ? 6 : 3; // rebuilding 50,000 Services whole takes seconds
    for (let i = 0; i < 45; i++) {
      // The builder's change sent through the session and, when the addon loads, as a netlink batch (the agent's
      // default); every few, the model rebuilt whole, as before.
      const way = i % wholeEvery === wholeEvery - 1 ? 'whole' : sender && i % 2 ? 'netlink' : 'builder';
      const s = performance.now();
      const r = store.change(way === 'whole' ? 'whole' : 'builder');
      const k = performance.now();
      const [op] = r.ops;
      if (r.ops.length !== 1 || op?.kind !== 'nft.tx')
        throw new Error(`one endpoint change planned as ${r.ops.length} ops`);
      if (way === 'netlink')
        sender!.send(
          netfilterRequest(`/run/netns/${node}`, op.tx, (j) => renderNftTx(op.tx.slice(j, j + 1))),
        );
      else await session.apply(r.text);
      const end = performance.now();
      out[way].push({ ...r.times, kernel: end - k, total: r.times.event + (end - s) });
    }
  } finally {
    session.close();
  }
  const m = (c: Change[], k: keyof Change) => median(c.map((x) => x[k])).toFixed(2);
  log(
    `agent path ${n}: one endpoint change ${m(out.builder, 'total')} ms (build ${m(out.builder, 'build')}, plan ${m(out.builder, 'plan')}, kernel ${m(out.builder, 'kernel')}); rebuilt whole ${m(out.whole, 'total')} ms (build ${m(out.whole, 'build')}, plan ${m(out.whole, 'plan')})`,
  );
  return out;
}

/** The agent path's table and its target line, for the sizes that ran it. */
export function printAgentChanges(rows: readonly { n: number; agent?: AgentChanges }[]): void {
  const withAgent = rows.filter((r) => r.agent?.builder.length);
  if (withAgent.length) {
    const m = (c: Change[], k: keyof Change) => `${median(c.map((x) => x[k])).toFixed(2)} ms`;
    console.log(
      '\none endpoint change end to end as the agent makes it (store event -> model -> plan -> render -> nft session), medians',
    );
    console.log(
      table(
        [
          'N',
          'builder: total',
          'event + build',
          'plan + render',
          'kernel (session)',
          'via netlink: total',
          'kernel (netlink)',
          'rebuilt whole: total',
          'build',
          'plan',
          'ratio',
        ],
        withAgent.map((r) => {
          const b = r.agent!.builder;
          const w = r.agent!.whole;
          const sum = (c: Change[], ks: (keyof Change)[]) =>
            `${median(c.map((x) => ks.reduce((a, k) => a + x[k], 0))).toFixed(2)} ms`;
          return [
            String(r.n),
            m(b, 'total'),
            sum(b, ['event', 'build']),
            sum(b, ['plan', 'render']),
            m(b, 'kernel'),
            r.agent!.netlink.length ? m(r.agent!.netlink, 'total') : '-',
            r.agent!.netlink.length ? m(r.agent!.netlink, 'kernel') : '-',
            m(w, 'total'),
            m(w, 'build'),
            m(w, 'plan'),
            `${(median(w.map((x) => x.total)) / median(b.map((x) => x.total))).toFixed(0)}×`,
          ];
        }),
      ),
    );
  }
}

/** The agent's one endpoint change, end to end (netlink when the addon loaded, else the session), median ms. */
export function agentChangeMs(r: { agent?: AgentChanges }): number | undefined {
  const best = r.agent?.netlink.length ? r.agent.netlink : r.agent?.builder;
  return best?.length ? median(best.map((x) => x.total)) : undefined;
}

import { apply } from '../apply/apply.js';
import type { Runner } from '../exec/runner.js';
import type { Cluster } from '../model/resolve.js';
import type { Op } from '../plan/ops.js';
import { proxyUsesOf } from '../plan/services/nft-diff.js';
import type { LabNames } from './names.js';
import type { NodeDriftReport } from './node-sync.js';
import { type ProxyTouch, planLabProxyPart, touchedServices } from './proxy-part.js';
import type { ProxyUsesRecord, ProxyUsesRecords } from './proxy-uses.js';
import { labNftGenerations } from './runners.js';

/**
 * The service proxy's side of a one-shot lab change (`lab service|pod add|remove`): on each node whose table
 * podnet knows (a record from the last change at the namespace's current nftables generation,
 * proxy-uses.ts), only the touched Services' elements are planned and sent (proxy-part.ts); every other node
 * is left to the caller's whole observe-and-sync. finish() then says what the next change may trust.
 */
export class LabProxyChange {
  private readonly gens = labNftGenerations();
  private readonly keys: ReadonlySet<string>;
  /** Nodes synced partially: the generation after their transaction, and their new counts. */
  private readonly done = new Map<string, ProxyUsesRecord>();

  constructor(
    private readonly prev: Cluster,
    private readonly next: Cluster,
    touch: ProxyTouch,
    private readonly names: LabNames,
    private readonly records: ProxyUsesRecords,
  ) {
    this.keys = touchedServices(prev, next, touch);
  }

  /** Syncs the proxy of those `nodes` it can, partially; returns its ops and the nodes left to a whole sync. */
  async sync(runner: Runner, nodes: readonly string[]): Promise<{ ops: Op[]; whole: string[] }> {
    const whole: string[] = [];
    const ops: Op[] = [];
    const planned: { node: string; genid: number; txs: number; uses: ProxyUsesRecord['uses'] }[] = [];
    for (const node of nodes) {
      const rec = this.records[node];
      const genid = rec && this.gens ? this.gens.read(this.names.nodeNs(node)) : undefined;
      const p =
        rec && genid === rec.genid
          ? planLabProxyPart(this.prev, this.next, node, this.keys, rec.uses, this.names.node(node))
          : undefined;
      if (!p || genid === undefined) {
        whole.push(node);
        continue;
      }
      ops.push(...p.ops);
      planned.push({ node, genid, txs: p.ops.filter((o) => o.kind === 'nft.tx').length, uses: p.uses });
    }
    if (ops.length) await apply([{ title: 'service proxy (partial)', ops }], runner, { batch: true });
    // Our own transactions only: one commit each, none by anyone else in between.
    for (const x of planned) {
      const now = this.gens!.read(this.names.nodeNs(x.node));
      if (now === x.genid + x.txs) this.done.set(x.node, { genid: now, uses: x.uses });
    }
    return { ops, whole };
  }

  /**
   * The records for the next change, read once everything of this one is applied: a partially synced node
   * keeps its record if nothing committed since its proxy transaction; a node synced whole (`report`) gets one
   * from its desired model, at the generation read now.
   */
  finish(report: readonly NodeDriftReport[]): ProxyUsesRecords {
    const out: Record<string, ProxyUsesRecord> = {};
    const gens = this.gens;
    if (!gens) return out;
    for (const [node, r] of this.done) if (gens.read(this.names.nodeNs(node)) === r.genid) out[node] = r;
    for (const r of report)
      if (r.proxy?.mode === 'nftables' && !this.done.has(r.node))
        out[r.node] = { genid: gens.read(this.names.nodeNs(r.node)), uses: proxyUsesOf(r.proxy) };
    return out;
  }

  close(): void {
    this.gens?.close();
  }
}

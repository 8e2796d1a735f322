import { join } from 'node:path';
import type { Runner } from '../exec/runner.js';
import type { StoreCache } from './cache.js';
import { desiredBase, type SelfView } from './desired.js';
import type { AgentHealth } from './health.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import type { AgentPolicy } from './policy.js';
import { ProxyBuilder } from './proxy-builder.js';
import type { Reconciler } from './reconciler.js';
import type { NetworkConfig, SubnetLease } from './store/store.js';

export interface SyncLoopDeps {
  readonly cache: StoreCache;
  readonly reconciler: Reconciler;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** This node as the store knows it (undefined until the lease is held: nothing to sync yet). */
  readonly self: () => SelfView | undefined;
  /** After every successful sync (kubernetes: the Node's NetworkUnavailable condition). */
  readonly onSynced?: () => void;
  /** After every sync, good or not (the status file). */
  readonly report: () => void;
  /** Runs the conntrack cuts of a stricter policy; their file goes under stateDir. */
  readonly runner: Runner;
  readonly stateDir: string;
  /** NetworkPolicy: joins this node's policy table to the model, and cuts what a stricter one denies. */
  readonly policy?: AgentPolicy;
}

/**
 * One sync at a time, started at once when asked: the store snapshot -> this node's model -> the reconcile
 * core. Requests that arrive while one runs coalesce into the next (no timer, no debounce); a failed sync
 * retries after a second (level-triggered: the retry reads the kernel again).
 */
export class SyncLoop {
  private syncing = false;
  private pending: { kind: string; since?: number } | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly proxy = new ProxyBuilder();
  last: AgentHealth['lastSync'];
  lastError: string | undefined;
  /** Kernel writes since start. */
  writes = 0;
  peers = 0;

  constructor(private readonly d: SyncLoopDeps) {}

  /** Runs a sync now, or once the running one ends. `since`: when the change that asks for it arrived. */
  schedule(kind: string, since?: number): void {
    if (this.stopped) return;
    const p = this.pending;
    // A resync stays a resync; the oldest change's arrival time is what the programming latency counts from.
    const from = p?.since ?? since;
    this.pending = {
      kind: p?.kind === 'resync' ? 'resync' : kind,
      ...(from !== undefined ? { since: from } : {}),
    };
    if (!this.syncing) void this.drain();
  }

  /** Runs one sync and waits for it (start-up). */
  async runNow(kind: string): Promise<void> {
    await this.run(kind);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  private async drain(): Promise<void> {
    this.syncing = true;
    while (this.pending && !this.stopped) {
      const { kind, since } = this.pending;
      this.pending = undefined;
      await this.run(kind, since).catch(() => {});
    }
    this.syncing = false;
  }

  /**
   * The node's desired state (desiredModel's, built whole there): the proxy part only for the Services that
   * changed since the last sync (proxy-builder.ts), so one endpoint change costs one service's work.
   */
  private desired(subnets: readonly SubnetLease[], config: NetworkConfig, self: SelfView) {
    const { model, cluster } = desiredBase(subnets, config, self);
    if (self.proxy === 'none') return { model, cluster, skipped: [] };
    const { proxy, skipped } = this.proxy.build(this.d.cache, cluster, self.node, self.proxy);
    return { model: { ...model, proxy }, cluster, skipped };
  }

  private async run(kind: string, since?: number): Promise<void> {
    const snap = this.d.cache.nodeView();
    const config = snap.config;
    const self = this.d.self();
    if (!config || !self) return;
    const { metrics, log } = this.d;
    const started = performance.now();
    const end = metrics.syncDuration.startTimer({ kind });
    try {
      const { model: base, cluster, skipped } = this.desired(snap.subnets, config, self);
      const policy = this.d.policy;
      const model = policy ? policy.apply(base, cluster) : base;
      const revision = policy?.revision(snap.revision) ?? snap.revision;
      for (const s of skipped) log('warn', 'service skipped', { service: s.key, why: s.why });
      const modelled = performance.now();
      const r = await this.d.reconciler.sync(model);
      const written = performance.now();
      await policy?.cut(this.d.runner, join(this.d.stateDir, 'conntrack-cuts')).catch(() => 0);
      const ms = performance.now() - started;
      end();
      if (since !== undefined) metrics.programming.observe((performance.now() - since) / 1000);
      this.writes += r.ops;
      this.peers = cluster.nodes.length - 1;
      metrics.kernelWrites.inc(r.ops);
      metrics.peers.set(this.peers);
      metrics.syncs.inc({ kind, result: 'ok' });
      metrics.lastSync.set(Date.now() / 1000);
      this.last = {
        at: new Date().toISOString(),
        ops: r.ops,
        ms: round1(ms),
        kind,
        revision,
      };
      this.lastError = undefined;
      this.d.onSynced?.();
      log('info', 'sync', {
        kind,
        ops: r.ops,
        durationMs: this.last.ms,
        // From the change's arrival (watch event) to this sync's start: the wait behind a running sync.
        ...(since !== undefined ? { waitedMs: round1(started - since) } : {}),
        // Where the sync's time went: the model from the snapshot, then the kernel (observe or not, diff, apply).
        stepsMs: { model: round1(modelled - started), kernel: round1(written - modelled) },
        observed: r.observed,
        peers: this.peers,
        revision,
        ...(r.ops ? { changes: r.changes.slice(0, 20) } : {}),
      });
    } catch (e) {
      end();
      metrics.syncs.inc({ kind, result: 'error' });
      metrics.errors.inc({ kind: (e as { stage?: string }).stage ?? 'sync' });
      this.lastError = (e as Error).message;
      log('error', 'sync failed', { kind, error: this.lastError });
      // Level-triggered: the next sync reads the kernel again; retry soon rather than at the next resync.
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.schedule('retry'), 1000);
    }
    this.d.report();
  }
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;

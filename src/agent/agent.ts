import { join } from 'node:path';
import type { Runner } from '../exec/runner.js';
import { Cidr } from '../net/ip.js';
import { observeUplink, type UplinkState } from '../observe/uplink.js';
import { vtepMac } from '../plan/cross-node/vxlan.js';
import { HOST } from '../plan/ops.js';
import { StoreCache } from './cache.js';
import type { AgentConfig } from './config.js';
import { AGENT_BRIDGE, desiredModel, podMtu, type SelfView } from './desired.js';
import {
  conflistOf,
  readPreviousSubnet,
  writeConflist,
  writeLeaseFile,
  writePreviousSubnet,
} from './files.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import type { AgentPolicy } from './policy.js';
import type { Reconciler } from './reconciler.js';
import { type HeldLease, type NetworkConfig, type Store, StoreError, type Watch } from './store/store.js';

/** What `/healthz` and the status file report. */
export interface AgentHealth {
  readonly node: string;
  readonly pid: number;
  readonly healthy: boolean;
  readonly datastore: 'up' | 'down';
  readonly lease?: { readonly subnet: string; readonly leaseId: string; readonly expiresAt: string };
  readonly lastSync?: {
    readonly at: string;
    readonly ops: number;
    readonly ms: number;
    readonly kind: string;
    /** The store revision the synced snapshot was at. */
    readonly revision: string;
  };
  readonly kernelWrites: number;
  readonly peers: number;
  readonly lastError?: string;
}

export interface AgentDeps {
  readonly store: Store;
  readonly runner: Runner;
  readonly reconciler: Reconciler;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** Reads the uplink (tests give a fixed one). @default observeUplink on this process's namespace */
  readonly uplink?: (iface: string) => Promise<UplinkState | undefined>;
  /** Called whenever health changes (the status file). */
  readonly onHealth?: (h: AgentHealth) => void;
  /** Called after every successful sync (kubernetes: set the Node's NetworkUnavailable False). */
  readonly onSynced?: () => void;
  /** NetworkPolicy enforcement: its watches and this node's policy table (agent/policy.ts). */
  readonly policy?: AgentPolicy;
}

/** The agent could not start and must exit (no lease could ever be right: e.g. the network is full). */
export class AgentFatal extends Error {}

// Capped at 1 s: retries are cheap, and a node that waits for the store must be quick once it is back.
const BACKOFF_MS = [200, 500, 1000];
const WATCH_BACKOFF_MS = [100, 200, 500, 1000];

/**
 * `podnet agent`'s loop, in flannel's shape: take a subnet lease (same subnet after a restart), keep it
 * renewed, list the store then watch from the list's revision, and on every change (and every resync period)
 * build this node's model from the whole snapshot and run the reconcile core. Faults never touch the data
 * path: an unreachable store keeps the last state and retries with backoff; a lost lease is re-acquired.
 */
export class Agent {
  private readonly cache = new StoreCache();
  private self: SelfView | undefined;
  private lease: HeldLease | undefined;
  private watch: Watch | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private syncing = false;
  private pending: { kind: string; since?: number } | undefined;
  private failures = 0;
  private datastore: 'up' | 'down' = 'up';
  private lastSync: AgentHealth['lastSync'];
  private lastError: string | undefined;
  private writes = 0;
  private peerCount = 0;

  constructor(
    private readonly c: AgentConfig,
    private readonly d: AgentDeps,
  ) {}

  /** Starts: resolves once the lease is held, the kernel synced and the conflist written. */
  async start(): Promise<void> {
    this.d.metrics.datastoreUp.set(1); // until a call fails
    this.d.metrics.leaseHeld.set(0);
    const up = await this.retry('uplink', async () => {
      const u = await (this.d.uplink ?? ((i) => observeUplink(this.d.runner, HOST, i)))(this.c.iface);
      if (!u) throw new Error(`interface '${this.c.iface}' has no IPv4 address (--iface)`);
      return u;
    });
    const config = await this.retry('datastore', () => this.d.store.getNetworkConfig());
    if (this.c.backend && config.backend.type !== this.c.backend)
      throw new AgentFatal(
        `--backend ${this.c.backend} does not match the cluster's network config (${this.c.etcdPrefix}/config says '${config.backend.type}')`,
      );
    const publicIP = this.c.publicIP ?? up.ip;
    const lease = await this.acquire(config, publicIP, readPreviousSubnet(this.c));
    this.self = {
      node: this.c.node,
      subnet: lease.subnet,
      publicIP,
      underlay: Cidr.of(Cidr.parse(`${up.ip}/${up.prefix}`, false).network, up.prefix).toString(),
      iface: this.c.iface,
      underlayMtu: up.mtu,
      proxy: this.c.proxy,
      bridge: AGENT_BRIDGE,
    };
    await this.relist();
    // Policies listed before the first sync: a restart must not drop the policy table, even for a moment.
    await this.d.policy?.start(() => this.schedule('event', performance.now()));
    await this.runSync('startup');
    writeConflist(
      this.c,
      conflistOf(this.c, { subnet: lease.subnet, mtu: podMtu(config, this.self), bridge: AGENT_BRIDGE }),
    );
    this.startWatch();
    const renewEvery = Math.max(1000, (lease.ttlSeconds * 1000) / 3);
    this.timers.push(setInterval(() => void this.renew(), renewEvery));
    this.timers.push(
      setInterval(() => {
        this.d.reconciler.requestFull();
        this.schedule('resync');
      }, this.c.resyncSeconds * 1000),
    );
    this.d.log('info', 'agent started', {
      node: this.c.node,
      subnet: lease.subnet,
      publicIP,
      backend: config.backend.type,
    });
  }

  /** Stops timers and connections; the kernel state and the lease are left as they are. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.watch?.stop();
    this.d.policy?.stop();
    await this.d.store.close().catch(() => {});
  }

  get stopping(): boolean {
    return this.stopped;
  }

  health(): AgentHealth {
    const l = this.lease;
    return {
      node: this.c.node,
      pid: process.pid,
      healthy: this.datastore === 'up' && l !== undefined && this.lastError === undefined,
      datastore: this.datastore,
      ...(l
        ? { lease: { subnet: l.subnet, leaseId: l.leaseId, expiresAt: new Date(l.expiresAt).toISOString() } }
        : {}),
      ...(this.lastSync ? { lastSync: this.lastSync } : {}),
      kernelWrites: this.writes,
      peers: this.peerCount,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private async acquire(config: NetworkConfig, publicIP: string, previous?: string): Promise<HeldLease> {
    const attrs = {
      node: this.c.node,
      publicIP,
      backendType: config.backend.type,
      backendData: config.backend.type === 'vxlan' ? { vtepMAC: vtepMac(this.c.node) } : {},
    };
    const lease = await this.retry('lease', async () => {
      try {
        return await this.d.store.acquireSubnet({
          attrs,
          ttlSeconds: this.c.leaseTTLSeconds,
          ...(previous ? { previous } : {}),
        });
      } catch (e) {
        if (e instanceof StoreError && e.reason === 'no-free-subnet') throw new AgentFatal(e.message);
        throw e;
      }
    });
    this.held(lease);
    writePreviousSubnet(this.c, lease.subnet);
    this.d.log('info', 'subnet lease acquired', {
      subnet: lease.subnet,
      leaseId: lease.leaseId,
      ttl: lease.ttlSeconds,
    });
    return lease;
  }

  private held(lease: HeldLease) {
    this.lease = lease;
    writeLeaseFile(this.c, { subnet: lease.subnet, expiresAt: lease.expiresAt, leaseId: lease.leaseId });
    this.d.metrics.leaseHeld.set(1);
    this.report();
  }

  /** Renews the lease; a lost one is taken again (the same subnet: its key is gone, so it is free). */
  private async renew(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.stopped) return;
    try {
      this.held(await this.d.store.renewSubnet(lease));
      this.up();
    } catch (e) {
      if (e instanceof StoreError && e.reason === 'lease-lost') {
        this.d.metrics.errors.inc({ kind: 'lease' });
        this.d.log('warn', 'subnet lease lost; taking it again', { subnet: lease.subnet });
        try {
          const config = this.cache.snapshot().config ?? (await this.d.store.getNetworkConfig());
          const again = await this.d.store.acquireSubnet({
            attrs: lease.attrs,
            ttlSeconds: this.c.leaseTTLSeconds,
            previous: lease.subnet,
          });
          this.held(again);
          if (again.subnet !== lease.subnet) {
            // Someone took ours while we were cut off: follow the store (pods restart into the new subnet).
            this.d.log('error', 'subnet changed after the lease was lost', {
              was: lease.subnet,
              now: again.subnet,
            });
            this.self = { ...this.self!, subnet: again.subnet };
            writePreviousSubnet(this.c, again.subnet);
            writeConflist(
              this.c,
              conflistOf(this.c, {
                subnet: again.subnet,
                mtu: podMtu(config, this.self),
                bridge: AGENT_BRIDGE,
              }),
            );
            this.schedule('event');
          }
        } catch (e2) {
          this.down(e2 as Error);
        }
      } else this.down(e as Error);
    }
  }

  private async relist(): Promise<void> {
    const snap = await this.retry('datastore', () => this.d.store.list());
    this.cache.reset(snap);
  }

  private startWatch(): void {
    if (this.stopped) return;
    this.watch = this.d.store.watch(this.cache.revision, {
      onReady: () => this.up('watch'),
      onEvents: (events, revision) => {
        this.cache.apply(events, revision);
        this.up('watch');
        if (events.length) this.schedule('event', performance.now());
      },
      onRelist: (why) => {
        this.d.log('warn', 're-listing', { why });
        void this.relist().then(() => {
          this.schedule('event', performance.now());
          this.startWatch();
        });
      },
      onError: (err) => {
        this.down(err);
        // Short: a node that joined during an outage must be programmed soon after the store is back.
        const wait = WATCH_BACKOFF_MS[Math.min(this.failures - 1, WATCH_BACKOFF_MS.length - 1)]!;
        const t = setTimeout(() => {
          this.timers = this.timers.filter((x) => x !== t);
          // Resume from the last revision seen: nothing is lost in between (or etcd says compacted: re-list).
          this.startWatch();
        }, wait);
        this.timers.push(t);
      },
    });
  }

  /** Runs a sync now, or once the running one ends (changes meanwhile coalesce into one). */
  private schedule(kind: string, since?: number): void {
    if (this.stopped) return;
    const p = this.pending;
    this.pending = {
      kind: p?.kind === 'resync' ? 'resync' : kind,
      ...((since ?? p?.since) ? { since: p?.since ?? since } : {}),
    };
    if (!this.syncing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.syncing = true;
    while (this.pending && !this.stopped) {
      const { kind, since } = this.pending;
      this.pending = undefined;
      await this.runSync(kind, since).catch(() => {});
    }
    this.syncing = false;
  }

  private async runSync(kind: string, since?: number): Promise<void> {
    const snap = this.cache.snapshot();
    const config = snap.config;
    if (!config || !this.self) return;
    const started = performance.now();
    const end = this.d.metrics.syncDuration.startTimer({ kind });
    try {
      const { model: base, cluster, skipped } = desiredModel(snap, config, this.self);
      const model = this.d.policy ? this.d.policy.apply(base, cluster) : base;
      const revision = this.d.policy?.revision(snap.revision) ?? snap.revision;
      for (const s of skipped) this.d.log('warn', 'service skipped', { service: s.key, why: s.why });
      const r = await this.d.reconciler.sync(model);
      await this.d.policy?.cut(this.d.runner, join(this.c.stateDir, 'conntrack-cuts')).catch(() => 0);
      const ms = performance.now() - started;
      end();
      if (since !== undefined) this.d.metrics.programming.observe((performance.now() - since) / 1000);
      this.writes += r.ops;
      this.peerCount = cluster.nodes.length - 1;
      this.d.metrics.kernelWrites.inc(r.ops);
      this.d.metrics.peers.set(this.peerCount);
      this.d.metrics.syncs.inc({ kind, result: 'ok' });
      this.d.metrics.lastSync.set(Date.now() / 1000);
      this.lastSync = {
        at: new Date().toISOString(),
        ops: r.ops,
        ms: Math.round(ms * 10) / 10,
        kind,
        revision,
      };
      this.lastError = undefined;
      this.d.onSynced?.();
      this.d.log('info', 'sync', {
        kind,
        ops: r.ops,
        durationMs: this.lastSync.ms,
        observed: r.observed,
        peers: this.peerCount,
        revision,
        ...(r.ops ? { changes: r.changes.slice(0, 20) } : {}),
      });
    } catch (e) {
      end();
      this.d.metrics.syncs.inc({ kind, result: 'error' });
      this.d.metrics.errors.inc({ kind: (e as { stage?: string }).stage ?? 'sync' });
      this.lastError = (e as Error).message;
      this.d.log('error', 'sync failed', { kind, error: this.lastError });
      // Level-triggered: the next sync reads the kernel again; retry soon rather than at the next resync.
      const t = setTimeout(() => this.schedule('retry'), 1000);
      this.timers.push(t);
    }
    this.report();
  }

  /** Retries `f` with backoff until it succeeds (the store may not be up yet); AgentFatal ends it. */
  private async retry<T>(what: string, f: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        const v = await f();
        if (what === 'datastore' || what === 'lease') this.up();
        return v;
      } catch (e) {
        if (e instanceof AgentFatal || this.stopped) throw e;
        if (what !== 'uplink') this.down(e as Error);
        else this.d.log('warn', 'waiting for the uplink', { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, BACKOFF_MS[Math.min(i, BACKOFF_MS.length - 1)]));
      }
    }
  }

  private up(from: 'watch' | 'call' = 'call'): void {
    if (this.datastore === 'up') return;
    this.datastore = 'up';
    // A watch stream can outlive a partition silently: after an outage seen by a call, start it again
    // from the last revision (etcd replays what was missed, or says compacted and we re-list).
    if (from === 'call' && this.watch && this.self) {
      this.watch.stop();
      this.startWatch();
    }
    this.failures = 0;
    this.d.metrics.datastoreUp.set(1);
    this.d.log('info', 'datastore reachable again');
    this.report();
  }

  private down(err: Error): void {
    this.failures++;
    this.d.metrics.errors.inc({ kind: 'datastore' });
    if (this.datastore === 'down' && this.failures % 10 !== 1) return; // log the first, then every tenth
    this.datastore = 'down';
    this.d.metrics.datastoreUp.set(0);
    this.d.log('warn', 'datastore unreachable; keeping the last state', {
      error: err.message,
      failures: this.failures,
    });
    this.report();
  }

  private report(): void {
    this.d.onHealth?.(this.health());
  }
}

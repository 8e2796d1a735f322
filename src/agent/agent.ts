import type { Runner } from '../exec/runner.js';
import { Cidr } from '../net/ip.js';
import { observeUplink, type UplinkState } from '../observe/uplink.js';
import { HOST } from '../plan/ops.js';
import { StoreCache } from './cache.js';
import type { AgentConfig } from './config.js';
import { AGENT_BRIDGE, podMtu, type SelfView } from './desired.js';
import { conflistOf, readPreviousSubnet, writeConflist } from './files.js';
import { type AgentHealth, StoreStatus } from './health.js';
import { AgentFatal, LeaseKeeper } from './lease-keeper.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import type { AgentPolicy } from './policy.js';
import type { Reconciler } from './reconciler.js';
import { StartupMarks } from './startup-marks.js';
import type { NetworkConfig, Snapshot, Store } from './store/store.js';
import { StoreWatch } from './store-watch.js';
import { SyncLoop } from './sync-loop.js';

export type { AgentHealth } from './health.js';
export { AgentFatal } from './lease-keeper.js';

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
  /** Called once the lease is held: what can wait until then starts here (the nft session). */
  readonly onLeased?: () => void;
  /** NetworkPolicy enforcement: its watches and this node's policy table (agent/policy.ts). */
  readonly policy?: AgentPolicy;
}

// Capped at 1 s: retries are cheap, and a node that waits for the store must be quick once it is back.
const BACKOFF_MS = [200, 500, 1000];

/**
 * `podnet agent`'s loop, in flannel's shape: take a subnet lease (LeaseKeeper), list the store then watch it
 * (StoreWatch), and on every change and every resync period build this node's model from the whole snapshot
 * and run the reconcile core (SyncLoop). Start-up does the lease first (what the other nodes wait for), then
 * its own sync. Faults never touch the data path: an unreachable store keeps the last state and retries.
 */
export class Agent {
  private readonly cache = new StoreCache();
  private readonly status: StoreStatus;
  private readonly leases: LeaseKeeper;
  private readonly watch: StoreWatch;
  private readonly syncs: SyncLoop;
  private self: SelfView | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly c: AgentConfig,
    private readonly d: AgentDeps,
  ) {
    const report = () => this.d.onHealth?.(this.health());
    this.status = new StoreStatus(d.metrics, d.log, report, () => this.self && this.watch.restart());
    this.leases = new LeaseKeeper(c, d.store, d.metrics, d.log, this.status, report, (s) => this.moved(s));
    this.syncs = new SyncLoop({
      cache: this.cache,
      reconciler: d.reconciler,
      metrics: d.metrics,
      log: d.log,
      self: () => this.self,
      report,
      runner: d.runner,
      stateDir: c.stateDir,
      ...(d.policy ? { policy: d.policy } : {}),
      ...(d.onSynced ? { onSynced: d.onSynced } : {}),
    });
    this.watch = new StoreWatch(d.store, this.cache, this.status, d.log, (at) =>
      this.syncs.schedule('event', at),
    );
  }

  /** Starts: resolves once the lease is held, the kernel synced and the conflist written. */
  async start(): Promise<void> {
    const marks = new StartupMarks();
    this.d.metrics.datastoreUp.set(1); // until a call fails
    this.d.metrics.leaseHeld.set(0);
    // The uplink, the store's list and the lease grant at once: taking the subnet needs all three, none needs
    // another (one round trip less on the path a joining node's peers wait for).
    this.d.store.prepareLease?.(this.c.leaseTTLSeconds);
    const [up, snap] = await Promise.all([
      this.retry('uplink', async () => {
        const u = await (this.d.uplink ?? ((i) => observeUplink(this.d.runner, HOST, i)))(this.c.iface);
        if (!u) throw new Error(`interface '${this.c.iface}' has no IPv4 address (--iface)`);
        return u;
      }),
      this.retry('datastore', () => this.d.store.list()),
    ]);
    marks.at('listed');
    // No config in the list: the store's own read says what is missing, in its words, and the retry waits.
    const config = snap.config ?? (await this.retry('datastore', () => this.d.store.getNetworkConfig()));
    if (this.c.backend && config.backend.type !== this.c.backend)
      throw new AgentFatal(
        `--backend ${this.c.backend} does not match the cluster's network config (${this.c.etcdPrefix}/config says '${config.backend.type}')`,
      );
    const publicIP = this.c.publicIP ?? up.ip;
    const previous = readPreviousSubnet(this.c);
    // The list decides the first attempt (a lost race lists again); later attempts list for themselves.
    let known: Snapshot | undefined = snap.config ? snap : undefined;
    const lease = await this.retry('lease', () => {
      const k = known;
      known = undefined;
      return this.leases.acquire(config, publicIP, previous, k);
    });
    marks.at('leased');
    const leasedAt = Date.now();
    this.d.onLeased?.();
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
    // The cache starts from the list taken before the lease: the watch starts from its revision, so our own
    // lease and anything written since arrive as events (no second list on the start-up path).
    this.cache.reset(snap);
    // Policies listed before the first sync: a restart must not drop the policy table, even for a moment.
    await this.d.policy?.start(() => this.syncs.schedule('event', performance.now()));
    await this.syncs.runNow('startup');
    marks.at('synced');
    this.writeConflist(config);
    this.watch.start();
    this.leases.keep();
    this.resync = setInterval(() => {
      this.d.reconciler.requestFull();
      this.syncs.schedule('resync');
    }, this.c.resyncSeconds * 1000);
    marks.at('ready');
    this.d.log('info', 'agent started', {
      node: this.c.node,
      subnet: lease.subnet,
      publicIP,
      backend: config.backend.type,
      leasedAt: new Date(leasedAt).toISOString(),
      startupMs: marks.since(),
    });
  }

  /** Stops timers and connections; the kernel state and the lease are left as they are. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    this.leases.stop();
    this.syncs.stop();
    this.watch.stop();
    this.d.policy?.stop();
    await this.d.store.close().catch(() => {});
  }

  get stopping(): boolean {
    return this.stopped;
  }

  health(): AgentHealth {
    const l = this.leases.lease;
    const s = this.syncs;
    return {
      node: this.c.node,
      pid: process.pid,
      healthy: this.status.datastore === 'up' && l !== undefined && s.lastError === undefined,
      datastore: this.status.datastore,
      ...(l
        ? { lease: { subnet: l.subnet, leaseId: l.leaseId, expiresAt: new Date(l.expiresAt).toISOString() } }
        : {}),
      ...(s.last ? { lastSync: s.last } : {}),
      kernelWrites: s.writes,
      peers: s.peers,
      ...(s.lastError ? { lastError: s.lastError } : {}),
    };
  }

  /** The lease came back with another subnet: this node and its pods follow the store. */
  private moved(subnet: string): void {
    this.self = { ...this.self!, subnet };
    const config = this.cache.nodeView().config;
    if (config) this.writeConflist(config);
    this.syncs.schedule('event');
  }

  private writeConflist(config: NetworkConfig): void {
    const self = this.self!;
    writeConflist(
      this.c,
      conflistOf(this.c, { subnet: self.subnet, mtu: podMtu(config, self), bridge: AGENT_BRIDGE }),
    );
  }

  /** Retries `f` with backoff until it succeeds (the store may not be up yet); AgentFatal ends it. */
  private async retry<T>(what: 'uplink' | 'datastore' | 'lease', f: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        const v = await f();
        if (what !== 'uplink') this.status.up();
        return v;
      } catch (e) {
        if (e instanceof AgentFatal || this.stopped) throw e;
        if (what !== 'uplink') this.status.down(e as Error);
        else this.d.log('warn', 'waiting for the uplink', { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, BACKOFF_MS[Math.min(i, BACKOFF_MS.length - 1)]));
      }
    }
  }
}

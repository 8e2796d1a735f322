import { vtepMac } from '../plan/cross-node/vxlan.js';
import type { AgentConfig } from './config.js';
import { writeLeaseFile, writePreviousSubnet } from './files.js';
import type { StoreStatus } from './health.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import { type HeldLease, type NetworkConfig, type Snapshot, type Store, StoreError } from './store/store.js';

/** The agent could not start and must exit (no lease could ever be right: e.g. the network is full). */
export class AgentFatal extends Error {}

/**
 * This node's subnet lease (flannel's subnet manager): taken at start-up (the same subnet after a restart),
 * renewed every quarter of its TTL (a killed agent restarted within three quarters of it finds its key still
 * there, so no peer ever drops this node), and taken again when it was lost (expired during a long outage); the store
 * gives back the same subnet unless someone else took it meanwhile, and then `onMoved` follows the store.
 */
export class LeaseKeeper {
  private held: HeldLease | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly c: AgentConfig,
    private readonly store: Store,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly status: StoreStatus,
    private readonly onChange: () => void,
    private readonly onMoved: (subnet: string) => void,
  ) {}

  get lease(): HeldLease | undefined {
    return this.held;
  }

  /** One attempt to take a subnet; StoreError 'unavailable' for the caller to retry, AgentFatal when none is free. */
  async acquire(
    config: NetworkConfig,
    publicIP: string,
    previous?: string,
    known?: Snapshot,
  ): Promise<HeldLease> {
    const attrs = {
      node: this.c.node,
      publicIP,
      backendType: config.backend.type,
      backendData: config.backend.type === 'vxlan' ? { vtepMAC: vtepMac(this.c.node) } : {},
    };
    let lease: HeldLease;
    try {
      lease = await this.store.acquireSubnet({
        attrs,
        ttlSeconds: this.c.leaseTTLSeconds,
        ...(previous ? { previous } : {}),
        ...(known ? { known } : {}),
      });
    } catch (e) {
      if (e instanceof StoreError && e.reason === 'no-free-subnet') throw new AgentFatal(e.message);
      throw e;
    }
    this.hold(lease);
    writePreviousSubnet(this.c, lease.subnet);
    this.log('info', 'subnet lease acquired', {
      subnet: lease.subnet,
      leaseId: lease.leaseId,
      ttl: lease.ttlSeconds,
    });
    return lease;
  }

  /** Renews every quarter of the TTL from now on. */
  keep(): void {
    const every = Math.max(1000, (this.held!.ttlSeconds * 1000) / 4);
    this.timer = setInterval(() => void this.renew(), every);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private hold(lease: HeldLease): void {
    this.held = lease;
    writeLeaseFile(this.c, { subnet: lease.subnet, expiresAt: lease.expiresAt, leaseId: lease.leaseId });
    this.metrics.leaseHeld.set(1);
    this.onChange();
  }

  /** Renews the lease; a lost one is taken again (the same subnet: its key is gone, so it is free). */
  private async renew(): Promise<void> {
    const lease = this.held;
    if (!lease) return;
    try {
      this.hold(await this.store.renewSubnet(lease));
      this.status.up();
    } catch (e) {
      if (!(e instanceof StoreError && e.reason === 'lease-lost')) return this.status.down(e as Error);
      this.metrics.errors.inc({ kind: 'lease' });
      this.log('warn', 'subnet lease lost; taking it again', { subnet: lease.subnet });
      try {
        const again = await this.store.acquireSubnet({
          attrs: lease.attrs,
          ttlSeconds: this.c.leaseTTLSeconds,
          previous: lease.subnet,
        });
        this.hold(again);
        if (again.subnet !== lease.subnet) {
          // Someone took ours while we were cut off: follow the store (pods restart into the new subnet).
          this.log('error', 'subnet changed after the lease was lost', {
            was: lease.subnet,
            now: again.subnet,
          });
          writePreviousSubnet(this.c, again.subnet);
          this.onMoved(again.subnet);
        }
      } catch (e2) {
        this.status.down(e2 as Error);
      }
    }
  }
}

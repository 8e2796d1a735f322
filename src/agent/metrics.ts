import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The agent's Prometheus metrics (prom-client), named in kube-proxy's style: `podnet_sync_duration_seconds`
 * (kube-proxy's sync_proxy_rules_duration_seconds), `podnet_network_programming_duration_seconds` (from a store
 * event's arrival to the kernel programmed), peers, errors by kind, and every kernel write counted.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly syncDuration = new Histogram({
    name: 'podnet_sync_duration_seconds',
    help: 'Time one sync took: build the model, (observe,) diff and apply',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly programming = new Histogram({
    name: 'podnet_network_programming_duration_seconds',
    help: 'Time from a store change reaching the agent to the kernel programmed for it',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly syncs = new Counter({
    name: 'podnet_syncs_total',
    help: 'Syncs run, by kind (event, resync, startup) and result',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly kernelWrites = new Counter({
    name: 'podnet_kernel_writes_total',
    help: 'Kernel changes applied (one per op: a route, an FDB entry, an nft transaction...)',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'podnet_errors_total',
    help: 'Errors by kind: datastore, lease, apply, observe, config',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly peers = new Gauge({
    name: 'podnet_peers',
    help: 'Other nodes this node programs routes for',
    registers: [this.registry],
  });
  readonly datastoreUp = new Gauge({
    name: 'podnet_datastore_up',
    help: '1 while the datastore answers, 0 while it is unreachable',
    registers: [this.registry],
  });
  readonly leaseHeld = new Gauge({
    name: 'podnet_lease_held',
    help: '1 while this node holds its subnet lease',
    registers: [this.registry],
  });
  readonly lastSync = new Gauge({
    name: 'podnet_last_sync_timestamp_seconds',
    help: 'When the last successful sync ended (Unix time)',
    registers: [this.registry],
  });

  // The process metrics, read when scraped. Not prom-client's collectDefaultMetrics: its event-loop lag
  // monitor wakes the process every 10 ms, which was most of an idle agent's CPU.
  readonly cpu = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds',
    registers: [this.registry],
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });

  readonly rss = new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes',
    registers: [this.registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  readonly startTime = new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds',
    registers: [this.registry],
  });

  constructor() {
    this.startTime.set(Math.round((performance.timeOrigin + 0) / 1000));
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';

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

/**
 * Whether the store answers, as the agent last found it: every failed call marks it down (logged once, then
 * every tenth failure), the next success up. `onBack` runs when a call (not the watch) finds it back.
 */
export class StoreStatus {
  private state: 'up' | 'down' = 'up';
  private fails = 0;

  constructor(
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly report: () => void,
    private readonly onBack: () => void,
  ) {}

  get datastore(): 'up' | 'down' {
    return this.state;
  }

  /** Failures in a row (the watch's backoff grows with it). */
  get failures(): number {
    return this.fails;
  }

  up(from: 'watch' | 'call' = 'call'): void {
    if (this.state === 'up') return;
    this.state = 'up';
    if (from === 'call') this.onBack();
    this.fails = 0;
    this.metrics.datastoreUp.set(1);
    this.log('info', 'datastore reachable again');
    this.report();
  }

  down(err: Error): void {
    this.fails++;
    this.metrics.errors.inc({ kind: 'datastore' });
    if (this.state === 'down' && this.fails % 10 !== 1) return; // log the first, then every tenth
    this.state = 'down';
    this.metrics.datastoreUp.set(0);
    this.log('warn', 'datastore unreachable; keeping the last state', {
      error: err.message,
      failures: this.fails,
    });
    this.report();
  }
}

import type { StoreCache } from './cache.js';
import type { StoreStatus } from './health.js';
import type { Logger } from './log.js';
import type { Store, Watch } from './store/store.js';

// Short: a node that joined during an outage must be programmed soon after the store is back.
const WATCH_BACKOFF_MS = [100, 200, 500, 1000];

/**
 * The agent's view of the store kept current: list, then watch from the list's revision (nothing lost in
 * between); after a compaction, list again; a broken stream resumes from the last revision seen. Every
 * change calls `onChange` at once with the time it arrived (no debounce: the sync loop coalesces).
 */
export class StoreWatch {
  private watch: Watch | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly cache: StoreCache,
    private readonly status: StoreStatus,
    private readonly log: Logger,
    private readonly onChange: (at: number) => void,
  ) {}

  /** Fills the cache from a full list (the caller retries). */
  async relist(): Promise<void> {
    this.cache.reset(await this.store.list());
  }

  /** Watches from the cache's revision. */
  start(): void {
    if (this.stopped) return;
    this.watch = this.store.watch(this.cache.revision, {
      onReady: () => this.status.up('watch'),
      onEvents: (events, revision) => {
        const at = performance.now();
        this.cache.apply(events, revision);
        this.status.up('watch');
        if (events.length) this.onChange(at);
      },
      onRelist: (why) => {
        this.log('warn', 're-listing', { why });
        void this.relisted();
      },
      onError: (err) => {
        this.status.down(err);
        const wait = WATCH_BACKOFF_MS[Math.min(this.status.failures - 1, WATCH_BACKOFF_MS.length - 1)]!;
        this.retry = setTimeout(() => this.start(), wait);
      },
    });
  }

  /** A stream can outlive a partition silently: after an outage seen by a call, watch again. */
  restart(): void {
    if (!this.watch) return;
    this.watch.stop();
    this.start();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.watch?.stop();
  }

  private async relisted(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      try {
        await this.relist();
        this.status.up('watch');
        break;
      } catch (e) {
        this.status.down(e as Error);
        await new Promise((r) => setTimeout(r, WATCH_BACKOFF_MS[Math.min(i, WATCH_BACKOFF_MS.length - 1)]));
      }
    }
    this.onChange(performance.now());
    this.start();
  }
}

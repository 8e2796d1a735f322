import type { KeyValue, Kv, KvEvent, KvWatchSink } from './kv.js';

/**
 * etcd's semantics in process: one revision counter, TTL leases that expire on the (injectable) clock, a history
 * that `compact()` trims so watches from before it must re-list, exactly as against a real etcd.
 */
export class MemoryKv implements Kv {
  private rev = 1;
  private readonly data = new Map<string, KeyValue>();
  private history: { rev: number; events: KvEvent[] }[] = [];
  private compacted = 0;
  private readonly leases = new Map<string, { ttl: number; expires: number; keys: Set<string> }>();
  private nextLease = 0x1000;
  private readonly watchers = new Set<{ prefix: string; sink: KvWatchSink }>();
  private readonly timer: NodeJS.Timeout;
  /** When true, every call fails as if the server were unreachable (fault tests). */
  down = false;

  constructor(private readonly now: () => number = Date.now) {
    this.timer = setInterval(() => this.expire(), 100);
    this.timer.unref();
  }

  async range(prefix: string) {
    this.check();
    const kvs = [...this.data.values()].filter((kv) => kv.key.startsWith(prefix));
    kvs.sort((a, b) => (a.key < b.key ? -1 : 1));
    return { revision: this.rev, kvs };
  }

  async get(key: string) {
    this.check();
    return this.data.get(key);
  }

  async put(key: string, value: string) {
    this.check();
    this.write([{ key, value, lease: '0' }]);
    return this.rev;
  }

  async delete(key: string) {
    this.check();
    if (this.data.has(key)) this.write([{ key }]);
  }

  async createIfAbsent(key: string, value: string, lease: string) {
    this.check();
    this.checkLease(lease);
    if (this.data.has(key)) return undefined;
    this.write([{ key, value, lease }]);
    return this.rev;
  }

  async replaceIf(key: string, modRevision: number, value: string, lease: string) {
    this.check();
    this.checkLease(lease);
    if (this.data.get(key)?.modRevision !== modRevision) return undefined;
    this.write([{ key, value, lease }]);
    return this.rev;
  }

  async grant(ttlSeconds: number) {
    this.check();
    const id = String(this.nextLease++);
    this.leases.set(id, { ttl: ttlSeconds, expires: this.now() + ttlSeconds * 1000, keys: new Set() });
    return { id, ttl: ttlSeconds };
  }

  async keepAlive(id: string) {
    this.check();
    this.expire();
    const l = this.leases.get(id);
    if (!l) return 0;
    l.expires = this.now() + l.ttl * 1000;
    return l.ttl;
  }

  async revoke(id: string) {
    this.check();
    this.end(id);
  }

  watch(prefix: string, fromRevision: number, sink: KvWatchSink) {
    const w = { prefix, sink };
    let stopped = false;
    queueMicrotask(() => {
      if (stopped) return;
      if (this.down) return sink.onError(new Error('memory kv is down'));
      if (fromRevision < this.compacted) return sink.onCompacted(this.compacted);
      sink.onReady?.();
      const past = this.history.filter((h) => h.rev > fromRevision);
      for (const h of past) this.deliver(w, h.events, h.rev);
      this.watchers.add(w);
    });
    return {
      stop: () => {
        stopped = true;
        this.watchers.delete(w);
      },
    };
  }

  async close() {
    clearInterval(this.timer);
    this.watchers.clear();
  }

  /** Drops history up to the current revision: watches from an older revision get onCompacted. */
  compact(): void {
    this.compacted = this.rev;
    this.history = [];
  }

  /** Simulates losing the server: every watch ends with an error and calls fail until `down = false`. */
  disconnect(): void {
    this.down = true;
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.sink.onError(new Error('memory kv is down'));
    }
  }

  /** Drops leases whose TTL has passed, with their keys. */
  expire(): void {
    const t = this.now();
    for (const [id, l] of this.leases) if (l.expires <= t) this.end(id);
  }

  private end(id: string) {
    const l = this.leases.get(id);
    if (!l) return;
    this.leases.delete(id);
    const dels = [...l.keys].filter((k) => this.data.get(k)?.lease === id).map((key) => ({ key }));
    if (dels.length) this.write(dels);
  }

  private checkLease(id: string) {
    this.expire();
    if (id !== '0' && !this.leases.has(id)) throw new Error('etcdserver: requested lease not found');
  }

  private check() {
    if (this.down) throw new Error('memory kv is down');
  }

  /** One revision: puts (with value) and deletes (without), delivered to watchers as one batch. */
  private write(changes: { key: string; value?: string; lease?: string }[]) {
    this.rev++;
    const events: KvEvent[] = [];
    for (const c of changes) {
      const old = this.data.get(c.key);
      if (old && old.lease !== '0') this.leases.get(old.lease)?.keys.delete(c.key);
      if (c.value === undefined) {
        if (!old) continue;
        this.data.delete(c.key);
        events.push({ type: 'delete', kv: { ...old, modRevision: this.rev, value: '' } });
      } else {
        const lease = c.lease ?? '0';
        const kv = { key: c.key, value: c.value, modRevision: this.rev, lease };
        this.data.set(c.key, kv);
        if (lease !== '0') this.leases.get(lease)?.keys.add(c.key);
        events.push({ type: 'put', kv });
      }
    }
    this.history.push({ rev: this.rev, events });
    for (const w of this.watchers) this.deliver(w, events, this.rev);
  }

  private deliver(w: { prefix: string; sink: KvWatchSink }, events: KvEvent[], rev: number) {
    const mine = events.filter((e) => e.kv.key.startsWith(w.prefix));
    if (mine.length) w.sink.onEvents(mine, rev);
  }
}

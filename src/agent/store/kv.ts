/**
 * The slice of etcd's v3 API the agent's store needs: ranges, create-if-absent and compare-and-swap
 * transactions, TTL leases, and a watch from a revision. `EtcdKv` speaks it to a real etcd over its JSON gateway;
 * `MemoryKv` is the same semantics in process (unit tests, `--datastore memory`). `KvStore` builds the agent's
 * `Store` (key layout, JSON encoding, subnet allocation) once, on top of either.
 */
export interface Kv {
  /** Every key under `prefix`, sorted, at one revision. */
  range(prefix: string): Promise<{ revision: number; kvs: KeyValue[] }>;
  get(key: string): Promise<KeyValue | undefined>;
  put(key: string, value: string): Promise<number>;
  delete(key: string): Promise<void>;
  /** One transaction: write `key` bound to `lease` unless the key exists. The write's revision; undefined if not written. */
  createIfAbsent(key: string, value: string, lease: string): Promise<number | undefined>;
  /**
   * One transaction: write `key` bound to `lease` if its mod revision is still `modRevision`. The write's
   * revision; undefined if not written.
   */
  replaceIf(key: string, modRevision: number, value: string, lease: string): Promise<number | undefined>;
  /** A new lease; `ttl` as granted (etcd raises very small TTLs to its minimum). */
  grant(ttlSeconds: number): Promise<{ id: string; ttl: number }>;
  /** Renews; the remaining TTL, or 0 when the lease no longer exists. */
  keepAlive(id: string): Promise<number>;
  /** Ends a lease now, deleting its keys; unknown leases are ignored. */
  revoke(id: string): Promise<void>;
  /** Changes under `prefix` after `fromRevision` (exclusive), in order. */
  watch(prefix: string, fromRevision: number, sink: KvWatchSink): { stop(): void };
  close(): Promise<void>;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
  /** Lease ID, '0' when none. */
  readonly lease: string;
}

export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
}

export interface KvWatchSink {
  /** The watch is established (the server answered): the store is reachable. */
  onReady?(): void;
  onEvents(events: readonly KvEvent[], revision: number): void;
  /** `fromRevision` was compacted away; the oldest revision still served is `compactRevision`. */
  onCompacted(compactRevision: number): void;
  onError(err: Error): void;
}

import { KvStore } from './kv-store.js';
import { MemoryKv } from './memory-kv.js';

/** A Store held in process (unit tests, one-process demos): etcd's semantics without etcd. */
export function memoryStore(opts: { prefix?: string; kv?: MemoryKv } = {}): { store: KvStore; kv: MemoryKv } {
  const kv = opts.kv ?? new MemoryKv();
  return { store: new KvStore(kv, { kind: 'memory', ...(opts.prefix ? { prefix: opts.prefix } : {}) }), kv };
}

import { after } from 'node:test';
import { memoryStore } from './memory.js';
import { MemoryKv } from './memory-kv.js';
import { storeSuite } from './store-suite.js';

// The Store contract on the in-memory Kv, with a fake clock (TTLs pass instantly).
let t = 1_000_000;
let kvs: MemoryKv[] = [];
after(async () => {
  for (const kv of kvs) await kv.close();
  kvs = [];
});

storeSuite('memory', {
  ttlSeconds: 10,
  async fresh() {
    const kv = new MemoryKv(() => t);
    kvs.push(kv);
    return memoryStore({ kv }).store;
  },
  async advance(ms) {
    t += ms;
    for (const kv of kvs) kv.expire();
  },
  async compact() {
    kvs.at(-1)!.compact();
  },
});

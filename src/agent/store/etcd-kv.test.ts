import { after, before, test } from 'node:test';
import { noEtcd, startEtcd, type TestEtcd } from '../../../test/helpers/etcd.js';
import { EtcdKv } from './etcd-kv.js';
import { KvStore } from './kv-store.js';
import { storeSuite } from './store-suite.js';

// The same Store contract against a real etcd (Debian's 3.4) on 127.0.0.1, on ports the kernel picked.
// Each test gets its own key prefix, so they share one server.
let etcd: TestEtcd | undefined;
let why: string | false = noEtcd;
const kvs: EtcdKv[] = [];
let n = 0;

before(async () => {
  if (why) return;
  try {
    etcd = await startEtcd();
  } catch (e) {
    why = `etcd could not start: ${(e as Error).message}`;
  }
});
after(async () => {
  for (const kv of kvs) await kv.close();
  await etcd?.stop();
});

if (noEtcd) test('etcd store suite', { skip: noEtcd }, () => {});
else
  storeSuite('etcd', {
    ttlSeconds: 2,
    async fresh() {
      if (why) throw new Error(why);
      const kv = new EtcdKv([etcd!.endpoint]);
      kvs.push(kv);
      return new KvStore(kv, { kind: 'etcd', prefix: `/suite${n++}` });
    },
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    async compact() {
      await kvs.at(-1)!.compact();
    },
  });

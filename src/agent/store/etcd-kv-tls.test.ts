import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { noEtcd, startEtcd, type TestEtcd } from '../../../test/helpers/etcd.js';
import { makeTestTls, noOpenssl, type TestTls } from '../../../test/helpers/etcd-tls.js';
import { EtcdKv } from './etcd-kv.js';
import { KvStore } from './kv-store.js';
import { StoreError } from './store.js';
import { storeSuite } from './store-suite.js';

// The Store contract against a real etcd over TLS (https only, client certificates required), then what a
// client with no certificate, or trusting another CA, is told.
let etcd: TestEtcd | undefined;
let tls: TestTls | undefined;
const skip = noEtcd || noOpenssl;
let why: string | false = skip;
const kvs: EtcdKv[] = [];
let n = 0;

before(async () => {
  if (why) return;
  try {
    tls = makeTestTls();
    etcd = await startEtcd({ tls });
  } catch (e) {
    why = `etcd with TLS could not start: ${(e as Error).message}`;
  }
});
after(async () => {
  for (const kv of kvs) await kv.close();
  await etcd?.stop();
  tls?.remove();
});

const kvWith = (files: { ca?: string; cert?: string; key?: string }) => {
  if (why) throw new Error(why);
  const read = (f?: string) => (f ? { pem: readFileSync(f) } : undefined);
  const [ca, cert, key] = [read(files.ca), read(files.cert), read(files.key)];
  const kv = new EtcdKv([etcd!.endpoint], {
    timeoutMs: 1500,
    tls: {
      ...(ca ? { ca: ca.pem } : {}),
      ...(cert ? { cert: cert.pem } : {}),
      ...(key ? { key: key.pem } : {}),
    },
  });
  kvs.push(kv);
  return kv;
};

if (skip) test('etcd store suite over TLS', { skip }, () => {});
else {
  storeSuite('etcd over TLS', {
    ttlSeconds: 2,
    async fresh() {
      const kv = kvWith({ ca: tls!.ca, cert: tls!.cert, key: tls!.key });
      return new KvStore(kv, { kind: 'etcd', prefix: `/tls${n++}` });
    },
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    async compact() {
      await kvs.at(-1)!.compact();
    },
  });

  test('etcd over TLS: a client without a certificate, or trusting another CA, is refused as unreachable, naming why', async () => {
    const refused = async (kv: EtcdKv, pattern: RegExp) => {
      const store = new KvStore(kv, { kind: 'etcd', prefix: '/refused' });
      const err = await store.list().then(
        () => assert.fail('expected the list to fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreError, String(err));
      assert.equal(err.reason, 'unavailable');
      assert.match(err.message, pattern);
    };
    // etcd's TLS alert: it wants a client certificate.
    await refused(kvWith({ ca: tls!.ca }), /etcd https:\/\/127\.0\.0\.1:\d+.*bad certificate/);
    await refused(kvWith({ ca: tls!.otherCa, cert: tls!.cert, key: tls!.key }), /unable to verify/);
    // The system's CAs do not know the test CA either.
    await refused(kvWith({ cert: tls!.cert, key: tls!.key }), /unable to verify/);
  });
}

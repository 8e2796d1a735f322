import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeTestTls, noOpenssl, type TestTls } from '../../test/helpers/etcd-tls.js';
import { ConfigError } from '../errors.js';
import { parseAgentConfig } from './config.js';
import { readEtcdTls } from './etcd-tls.js';

// The TLS files are checked before the agent starts: every bad one is named at once.
let tls: TestTls | undefined;
after(() => tls?.remove());

const config = (files: Record<string, string>) =>
  parseAgentConfig({ node: 'n1', datastore: 'etcd', etcdEndpoints: 'https://127.0.0.1:2379', ...files });

test(
  'etcd TLS files: unreadable, not PEM, and a key of another certificate are all reported',
  { skip: noOpenssl },
  () => {
    tls = makeTestTls();
    const junk = join(tls.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    try {
      readEtcdTls(
        config({ etcdCAFile: junk, etcdCertFile: join(tls.dir, 'missing.pem'), etcdKeyFile: tls.key }),
      );
      assert.fail('expected ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      assert.deepEqual(
        e.issues.map((i) => i.path),
        ['--etcd-cafile', '--etcd-certfile'],
      );
      assert.match(e.issues[0]!.message, /junk\.pem' is not a PEM certificate/);
      assert.match(e.issues[1]!.message, /cannot read '.*missing\.pem': ENOENT/);
    }
    assert.throws(
      () => readEtcdTls(config({ etcdCertFile: tls!.cert, etcdKeyFile: tls!.serverKey })),
      /--etcd-keyfile: '.*server\.key' is not the key of '.*client\.crt'/,
    );
    const ok = readEtcdTls(config({ etcdCAFile: tls.ca, etcdCertFile: tls.cert, etcdKeyFile: tls.key }));
    assert.match(String(ok?.ca), /BEGIN CERTIFICATE/);
    assert.match(String(ok?.key), /PRIVATE KEY/);
    assert.equal(readEtcdTls(config({})), undefined);
  },
);

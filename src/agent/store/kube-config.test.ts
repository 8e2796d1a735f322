import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../errors.js';
import { inClusterTarget, loadKubeconfig } from './kube-config.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, doc: object): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(doc));
  return f;
}

const cfg = (cluster: object, user: object) => ({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'x',
});

test('kubeconfig: the current context gives server, inline CA, client cert and key', () => {
  writeFileSync(join(dir, 'ca.crt'), 'CA-PEM');
  const f = write(
    'a.kubeconfig',
    cfg(
      { server: 'https://10.0.0.1:6443/', 'certificate-authority': 'ca.crt' },
      {
        'client-certificate-data': Buffer.from('CERT').toString('base64'),
        'client-key-data': Buffer.from('KEY').toString('base64'),
      },
    ),
  );
  const t = loadKubeconfig(f);
  assert.equal(t.server, 'https://10.0.0.1:6443');
  assert.equal(t.ca?.toString(), 'CA-PEM');
  assert.equal(t.cert?.toString(), 'CERT');
  assert.equal(t.key?.toString(), 'KEY');
  assert.equal(t.token, undefined);
});

test('kubeconfig: a token and insecure-skip-tls-verify', () => {
  const t = loadKubeconfig(
    write('b.kubeconfig', cfg({ server: 'https://h:1', 'insecure-skip-tls-verify': true }, { token: 'abc' })),
  );
  assert.equal(t.insecure, true);
  assert.equal(t.token?.(), 'abc');
});

test('kubeconfig: every problem at once (missing CA file, unsupported exec auth, bad server)', () => {
  const f = write(
    'c.kubeconfig',
    cfg({ server: 'ftp://x', 'certificate-authority': '/nonexistent/ca' }, { exec: { command: 'x' } }),
  );
  try {
    loadKubeconfig(f);
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(
      e.issues.map((i) => `${i.path}: ${i.message}`),
      [
        "clusters[].cluster.server: 'ftp://x' is not an https:// URL",
        "certificate-authority: '/nonexistent/ca' does not exist",
        'users[].user.exec: is not supported',
      ],
    );
  }
});

test('in-cluster config: outside a pod it says why and what to pass instead', () => {
  try {
    inClusterTarget({});
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.match(e.issues[0]!.message, /KUBERNETES_SERVICE_HOST|not set/);
    assert.match(`${e.issues[0]!.path} ${e.issues[0]!.hint}`, /--kubeconfig/);
  }
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FakeRunner } from '../exec/fake-runner.js';
import { netnsId, onDeathAnswer, serveCni } from './cni-server.js';
import { type CniRequest, encodeRequest, readAnswer } from './cni-wire.js';

/** The server on a real unix socket, driven the way native/cni-client.c drives it (verbs that need no kernel). */
const dir = mkdtempSync(join(tmpdir(), 'podnet-cni-server-'));
const socket = join(dir, 'cni.sock');
let server: Awaited<ReturnType<typeof serveCni>>;

function call(req: CniRequest): Promise<ReturnType<typeof readAnswer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = connect(socket);
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('end', () => resolve(readAnswer(Buffer.concat(chunks))));
    c.end(encodeRequest(req));
  });
}

before(async () => {
  server = await serveCni({ socket, runner: new FakeRunner([]) });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('VERSION and STATUS are answered as the plugin answers them', async () => {
  const v = await call({
    netns: netnsId(),
    env: { CNI_COMMAND: 'VERSION' },
    stdin: '{"cniVersion":"1.0.0"}',
  });
  assert.equal(v.kind, 'answer');
  assert.deepEqual(JSON.parse(v.kind === 'answer' ? v.stdout : ''), {
    cniVersion: '1.0.0',
    supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
  });
  const conf = {
    cniVersion: '1.0.0',
    name: 'unit',
    type: 'podnet',
    subnet: '10.244.9.0/29',
    ipam: { dataDir: dir },
  };
  const st = await call({ netns: netnsId(), env: { CNI_COMMAND: 'STATUS' }, stdin: JSON.stringify(conf) });
  assert.deepEqual(st, { kind: 'answer', exitCode: 0, stdout: '', stderr: '' });
  const bad = await call({ netns: netnsId(), env: { CNI_COMMAND: 'ADD' }, stdin: '{"cniVersion":' });
  assert.equal(bad.kind === 'answer' && bad.exitCode, 1);
  assert.equal(
    bad.kind === 'answer' && JSON.parse(bad.stdout).code,
    4,
    'env errors first, as the plugin does',
  );
  assert.equal(server.served(), 3);
});

test('a request from another network namespace is declined: the client runs the plugin itself', async () => {
  const r = await call({ netns: '0:1', env: { CNI_COMMAND: 'VERSION' }, stdin: '{}' });
  assert.deepEqual(r, { kind: 'fallback' });
});

test('only ADD must not be repeated after the agent died: it gets error 11 in the configuration version', () => {
  const add = onDeathAnswer(
    { netns: '', env: { CNI_COMMAND: 'ADD' }, stdin: '{"cniVersion":"0.4.0"}' },
    socket,
  );
  assert.equal(JSON.parse(add).code, 11);
  assert.equal(JSON.parse(add).cniVersion, '0.4.0');
  for (const verb of ['DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'])
    assert.equal(onDeathAnswer({ netns: '', env: { CNI_COMMAND: verb }, stdin: '{}' }, socket), '');
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startTimeOf } from '../../observe/procs.js';
import { LabState } from '../state.js';
import { clusterStatus, formatClusterStatus } from './status.js';

// A private state root: the journal names this test's own process as the running one, a dead PID as the other.
const root = mkdtempSync(join(tmpdir(), 'podnet-status-'));
process.env.PODNET_STATE_DIR = root;
after(() => rmSync(root, { recursive: true, force: true }));

function lab(name: string, kube: boolean): LabState {
  const s = new LabState(name);
  s.create();
  s.writeJson('cluster.json', { cpIP: '192.168.64.254', nodes: {} });
  if (kube) s.writeJson('kube.json', { bin: '/x', server: 'https://192.168.64.254:6443' });
  s.recordPid({ pid: process.pid, start: startTimeOf(process.pid)!, pod: 'etcd', role: 'etcd' });
  return s;
}

test('cluster status, kubernetes mode: etcd, kube-apiserver and kube-controller-manager with address, PID, up/down', () => {
  const s = lab('k', true);
  s.recordPid({ pid: process.pid, start: startTimeOf(process.pid)!, pod: 'etcd', role: 'kube-apiserver' });
  s.recordPid({ pid: 999999999, start: '1', pod: 'etcd', role: 'kube-controller-manager' });
  const st = clusterStatus('k')!;
  assert.equal(st.datastore, 'kubernetes');
  assert.deepEqual(st.controlPlane, [
    { component: 'etcd', address: 'http://192.168.64.254:2379', pid: process.pid, running: true },
    { component: 'kube-apiserver', address: 'https://192.168.64.254:6443', pid: process.pid, running: true },
    { component: 'kube-controller-manager', address: 'https://192.168.64.254:10257', running: false },
  ]);
  const text = formatClusterStatus(st);
  assert.match(
    text,
    new RegExp(
      `control plane: kube-apiserver https://192\\.168\\.64\\.254:6443 running \\(PID ${process.pid}\\)`,
    ),
  );
  assert.match(text, /control plane: kube-controller-manager https:\/\/192\.168\.64\.254:10257 STOPPED/);
  assert.match(text, /agents \(datastore kubernetes\):/);
});

test('cluster status, etcd mode: etcd only', () => {
  lab('e', false);
  const st = clusterStatus('e')!;
  assert.equal(st.datastore, 'etcd');
  assert.deepEqual(
    st.controlPlane.map((c) => c.component),
    ['etcd'],
  );
  assert.deepEqual(st.etcd, { endpoint: 'http://192.168.64.254:2379', pid: process.pid, running: true });
  assert.equal(clusterStatus('none'), undefined);
});

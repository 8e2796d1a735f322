import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatLabList, listLabs } from './list.js';

test('formatLabList: a header, one aligned row per lab, running/total pods when some are gone', () => {
  assert.equal(formatLabList([]), 'no labs on this machine (podnet lab up makes one)');
  const out = formatLabList([
    {
      name: 'a',
      state: 'up',
      createdAt: 'T1',
      source: 'x.yaml',
      stateDir: '/s/a',
      nodes: 3,
      pods: 4,
      podsRunning: 4,
    },
    { name: 'longer', state: 'orphaned', nodes: 1, pods: 2, podsRunning: 0 },
  ]);
  assert.deepEqual(out.split('\n'), [
    'LAB     STATE     NODES  PODS  CREATED  FROM',
    'a       up        3      4     T1       x.yaml',
    'longer  orphaned  1      0/2   -        (no state: podnet lab down --name LAB removes it)',
  ]);
});

test('listLabs: a lab whose state says creating is listed as creating, with what its record says', () => {
  const root = mkdtempSync(join(tmpdir(), 'podnet-list-'));
  const saved = process.env.PODNET_STATE_DIR;
  process.env.PODNET_STATE_DIR = root;
  try {
    const name = `zl${process.pid.toString(36)}`.slice(0, 12);
    mkdirSync(join(root, name));
    writeFileSync(
      join(root, name, 'lab.json'),
      JSON.stringify({ name, status: 'creating', createdAt: '2026-01-01T00:00:00Z', source: 'f.yaml' }),
    );
    mkdirSync(join(root, 'Not-A-Lab'));
    const mine = listLabs().filter((l) => l.name === name || l.name === 'Not-A-Lab');
    assert.deepEqual(mine, [
      {
        name,
        state: 'creating',
        createdAt: '2026-01-01T00:00:00Z',
        source: 'f.yaml',
        stateDir: join(root, name),
        nodes: 0,
        pods: 0,
        podsRunning: 0,
      },
    ]);
  } finally {
    if (saved === undefined) delete process.env.PODNET_STATE_DIR;
    else process.env.PODNET_STATE_DIR = saved;
    rmSync(root, { recursive: true, force: true });
  }
});

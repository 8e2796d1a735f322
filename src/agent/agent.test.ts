import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Command, CommandResult, Runner } from '../exec/runner.js';
import type { NodeModel } from '../plan/node/model.js';
import { Agent } from './agent.js';
import { parseAgentConfig } from './config.js';
import { AgentMetrics } from './metrics.js';
import type { Reconciler } from './reconciler.js';
import { memoryStore } from './store/memory.js';
import { MemoryKv } from './store/memory-kv.js';

// The agent's loop on the in-memory store: lease, list + watch, reconcile from snapshots, store outages and a
// lost lease. The kernel side is a recorder: each sync's desired model is kept, nothing is applied.
const dir = mkdtempSync(join(tmpdir(), 'podnet-agent-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const uplink: Runner = {
  async run(cmd: Command): Promise<CommandResult> {
    assert.deepEqual(cmd.argv.slice(0, 3), ['ip', '-j', '-4']);
    return {
      exitCode: 0,
      stderr: '',
      stdout: '[{"mtu":1500,"addr_info":[{"local":"192.168.64.4","prefixlen":24}]}]',
    };
  },
};

const until = async (what: string, f: () => boolean, ms = 5000) => {
  for (let t = 0; !f(); t += 20) {
    if (t > ms) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('agent loop: lease, peers from watch events, store outage keeps state, a lost lease is re-acquired with the same subnet', async () => {
  const kv = new MemoryKv();
  const { store } = memoryStore({ kv });
  const admin = memoryStore({ kv }).store;
  await admin.putNetworkConfig({
    network: '10.200.0.0/16',
    subnetLen: 24,
    serviceNetwork: '10.96.0.0/12',
    backend: { type: 'host-gw' },
  });
  const synced: NodeModel[] = [];
  const reconciler = {
    requestFull() {},
    async sync(m: NodeModel) {
      synced.push(m);
      return { ops: 1, observed: false, changes: [] };
    },
  } as unknown as Reconciler;
  const c = parseAgentConfig({
    node: 'n1',
    datastore: 'etcd',
    etcdEndpoints: 'http://127.0.0.1:1',
    stateDir: join(dir, 'state'),
    cniConfDir: join(dir, 'net.d'),
    leaseTTLSeconds: '5',
    proxy: 'none',
  });
  const logs: string[] = [];
  const agent = new Agent(c, {
    store,
    runner: uplink,
    reconciler,
    metrics: new AgentMetrics(),
    log: (_l, msg) => logs.push(msg),
  });
  try {
    await agent.start();
    const subnet = agent.health().lease!.subnet;
    assert.equal(subnet, '10.200.0.0/24');
    const conf = JSON.parse(readFileSync(join(dir, 'net.d', '10-podnet.conflist'), 'utf8'));
    assert.equal(conf.plugins[0].subnet, subnet);
    assert.equal(conf.plugins[0].mtu, 1500);

    // A peer joins: the next sync's model routes to it via its public IP.
    const peer = await admin.acquireSubnet({
      attrs: { node: 'n2', publicIP: '192.168.64.5', backendType: 'host-gw', backendData: {} },
    });
    const routed = () =>
      synced.at(-1)?.routes.some((r) => r.dst === peer.subnet && r.via === '192.168.64.5') ?? false;
    await until('peer routed', routed);

    // The store goes away: the agent reports it, keeps the last model (no sync without the peer), and recovers.
    const before = synced.length;
    kv.disconnect();
    await until('datastore down', () => agent.health().datastore === 'down');
    assert.equal(agent.health().healthy, false);
    kv.down = false;
    await until('datastore up', () => agent.health().datastore === 'up');
    assert.ok(synced.slice(before).every((m) => m.routes.some((r) => r.dst === peer.subnet)));

    // Changes made while the agent's watch is down, then compacted away: it is told to re-list, and does.
    kv.disconnect();
    kv.down = false;
    const p3 = await admin.acquireSubnet({
      attrs: { node: 'n3', publicIP: '192.168.64.6', backendType: 'host-gw', backendData: {} },
    });
    kv.compact();
    await until('re-listed', () => synced.at(-1)?.routes.some((r) => r.dst === p3.subnet) ?? false);
    assert.ok(logs.includes('re-listing'), logs.join(', '));
    await admin.revokeSubnet(p3);

    // The peer leaves (its lease revoked): its route goes.
    await admin.revokeSubnet(peer);
    await until('peer gone', () => !(synced.at(-1)?.routes.some((r) => r.dst === peer.subnet) ?? true));

    // Our own lease is lost (as after a long partition): the agent takes the same subnet again.
    const lost = agent.health().lease!.leaseId;
    await kv.revoke(lost);
    await until('lease re-acquired', () => (agent.health().lease?.leaseId ?? lost) !== lost, 5000);
    assert.equal(agent.health().lease?.subnet, subnet);
    assert.ok(logs.includes('subnet lease lost; taking it again'));
    assert.equal((await admin.list()).subnets.length, 1);
  } finally {
    await agent.stop();
    await kv.close();
  }
});

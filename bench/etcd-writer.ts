import { createInterface } from 'node:readline';
import { EtcdKv } from '../src/agent/store/etcd-kv.js';

/**
 * The agent bench's writer, run inside the lab's control-plane namespace (bench/agent.ts starts it): one JSON
 * line `{"key","value"}` in, one `{"revision","sentAt"}` out, where sentAt (ms since the epoch, sub-ms) is the
 * moment just before the put left for etcd. The endpoint-change latency then counts from the write itself,
 * not from an etcdctl process's start-up.
 */
const kv = new EtcdKv([process.argv[2] ?? 'http://127.0.0.1:2379']);
const now = () => performance.timeOrigin + performance.now();
await kv.get('/'); // the connection is open before the first timed write
console.log(JSON.stringify({ ready: true }));
for await (const line of createInterface({ input: process.stdin })) {
  const { key, value } = JSON.parse(line) as { key: string; value: string };
  const sentAt = now();
  const revision = await kv.put(key, value);
  console.log(JSON.stringify({ revision, sentAt }));
}
await kv.close();

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentMetrics } from './metrics.js';

test('metrics: the process figures are read when scraped, and no event-loop monitor runs', async () => {
  const m = new AgentMetrics();
  for (let x = 0; x < 2e6; x++) Math.sqrt(x); // some CPU time to count
  const text = await m.text();
  const cpu = Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);
  assert.ok(cpu > 0, text);
  const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]);
  assert.ok(rss > 1 << 20, `rss ${rss}`);
  assert.match(text, /^process_start_time_seconds \d+$/m);
  assert.doesNotMatch(text, /nodejs_eventloop_lag/);
  assert.match(text, /^podnet_peers 0$/m);
});

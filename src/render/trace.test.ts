import assert from 'node:assert/strict';
import { test } from 'node:test';
import { traceCleanupScript, traceTablesScript } from './trace.js';

const m = {
  tag: 'p123x1',
  proto: 'tcp' as const,
  client: '10.200.2.2',
  sport: 41000,
  dsts: [
    { ip: '10.96.0.2', port: 8080 },
    { ip: '10.200.1.2', port: 8080 },
  ],
  vxlanPort: 4789,
};

test('trace tables: a marking chain at prerouting and output, late chains at every other hook', () => {
  const s = traceTablesScript(m, true);
  assert.match(s, /^table inet podnet-trace-p123x1 \{/);
  assert.match(s, /table bridge podnet-trace-p123x1 \{/);
  for (const hook of [
    'prerouting priority -350',
    'output priority -350',
    'input priority 1000',
    'forward priority 1000',
    'postrouting priority 1000',
  ])
    assert.ok(s.includes(`hook ${hook}`), hook);
  assert.ok(
    s.includes(
      'ip saddr 10.200.2.2 tcp sport 41000 tcp flags & (syn | rst) != 0 meta nftrace set 1 comment "request"',
    ),
  );
  assert.ok(s.includes('ip daddr . tcp dport { 10.96.0.2 . 8080, 10.200.1.2 . 8080 }'));
  // VXLAN outer packets matched on the inner source address and port, and (TCP) the inner SYN/RST flags.
  assert.ok(
    s.includes(
      'udp dport 4789 @th,504,8 & 0x06 != 0 @th,336,32 0x0ac80202 @th,400,16 41000 meta nftrace set 1 comment "request"',
    ),
  );
});

test('the underlay switch gets only a bridge table: frames it hands to the IP hooks are not routing', () => {
  const s = traceTablesScript(m, true, true);
  assert.doesNotMatch(s, /table inet/);
  assert.match(s, /^table bridge podnet-trace-p123x1 \{/);
});

test('no bridge table where nothing is bridged; cleanup deletes what exists and tolerates what does not', () => {
  assert.doesNotMatch(traceTablesScript(m, false), /table bridge/);
  assert.equal(
    traceCleanupScript('p123x1', false),
    'add table inet podnet-trace-p123x1\ndelete table inet podnet-trace-p123x1\n',
  );
});

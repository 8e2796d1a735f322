import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prevResultProblems } from './prev-result.js';

test('a result as the plugin returns it has no problems, in every version', () => {
  for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0'])
    assert.deepEqual(
      prevResultProblems({
        cniVersion: v,
        interfaces: [{ name: 'br0' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x' }],
        ips: [
          {
            address: '10.244.1.2/24',
            gateway: '10.244.1.1',
            interface: 1,
            ...(v < '1' ? { version: '4' } : {}),
          },
        ],
        routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }],
        dns: { nameservers: ['10.96.0.10'] },
      }),
      [],
      v,
    );
});

test('every malformed part is named with its path', () => {
  assert.deepEqual(prevResultProblems([1]), [
    'prevResult: a list is not a result (a JSON object with cniVersion, interfaces, ips, routes)',
  ]);
  assert.deepEqual(
    prevResultProblems({
      cniVersion: 3,
      interfaces: {},
      ips: [{ address: '10.0.0.1', version: 4 }, 'x'],
      routes: [{ dst: 'default' }],
      dns: { search: 'a' },
    }),
    [
      'prevResult.cniVersion: 3 is not a CNI version podnet knows',
      'prevResult.interfaces: an object must be a list',
      "prevResult.ips[0].address: '10.0.0.1' is not an address/prefix",
      'prevResult.ips[0].version: 4 must be "4" or "6"',
      "prevResult.ips[1]: 'x' must be an object",
      "prevResult.routes[0].dst: 'default' is not an address/prefix",
      "prevResult.dns.search: 'a' must be a list of strings",
    ],
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { Ip } from '../net/ip.js';
import { parseClusterFile } from './parse.js';
import { endpointSliceOf } from './service.js';

const svc = (selector = '') =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec:\n  clusterIP: 10.96.0.9\n${selector}  ports: [{name: http, port: 80, targetPort: 81}]\n`;
const slice = (body: string) =>
  `---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ext-1\n  labels: {kubernetes.io/service-name: ext}\naddressType: IPv4\n${body}`;
const good =
  'endpoints:\n- addresses: [10.200.1.2]\n- addresses: [192.168.64.6]\n  conditions: {ready: false}\n  nodeName: node-2\nports: [{name: http, port: 8080}]\n';

function issues(text: string): ConfigIssue[] {
  try {
    parseClusterFile(text, 't.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  assert.fail('expected a ConfigError');
}

test('a selector-less Service takes the endpoints and port numbers of its EndpointSlices', () => {
  const spec = parseClusterFile(svc() + slice(good), 't.yaml');
  const s = spec.services!.find((x) => x.name === 'ext')!;
  assert.equal(s.ports[0]!.targetPort, 8080);
  assert.deepEqual(s.endpoints, [
    { ip: '10.200.1.2', ready: true },
    { ip: '192.168.64.6', ready: false, node: 'node-2' },
  ]);
  // Named after the pod at the address (the seed's pod b is 10.200.1.2 once allocated), else the address.
  const pods = [{ name: 'b', node: 'node-1', ip: Ip.parse('10.200.1.2'), labels: {} }];
  const eps = endpointSliceOf({ ...s, clusterIP: Ip.parse('10.96.0.9') }, pods).endpoints;
  assert.deepEqual(
    eps.map((e) => [e.targetRef.name, e.nodeName, e.conditions.ready]),
    [
      ['192.168.64.6', 'node-2', false],
      ['b', 'node-1', true],
    ],
  );
});

test('EndpointSlice semantic errors name the field as written', () => {
  const withSelector = issues(svc('  selector: {app: web}\n') + slice(good));
  assert.match(withSelector[0]!.message, /Service default\/ext has a selector/);
  assert.equal(
    withSelector[0]!.path,
    'document 2 (EndpointSlice ext-1): metadata.labels["kubernetes.io/service-name"]',
  );
  const noService = issues(svc() + slice(good).replace('service-name: ext}', 'service-name: exts}'));
  assert.match(
    noService[0]!.message,
    /'exts' names no Service of namespace 'default' in this file; did you mean 'ext'\?/,
  );
  const badPort = issues(svc() + slice(good.replace('name: http, port', 'name: htp, port')));
  assert.deepEqual(
    badPort.map((i) => i.message),
    [
      "lists no port 'http' (TCP) of Service default/ext",
      "'htp' (TCP) is no port of Service default/ext; did you mean 'http'?",
    ],
  );
  const addr = issues(svc() + slice(good.replace('10.200.1.2', '10.96.0.3').replace('node-2', 'node-7')));
  assert.deepEqual(
    addr.map((i) => i.path),
    [
      'document 2 (EndpointSlice ext-1): endpoints[0].addresses[0]',
      'document 2 (EndpointSlice ext-1): endpoints[1].nodeName',
    ],
  );
  assert.match(addr[0]!.message, /inside the service CIDR/);
  const noLabel = issues(
    svc() + slice(good).replace('  labels: {kubernetes.io/service-name: ext}\n', '  labels: {}\n'),
  );
  assert.match(noLabel[0]!.message, /has no 'kubernetes.io\/service-name' label/);
});

test('EndpointSlice fields are strict: unknown at each level, misspelt with a suggestion, wrong type', () => {
  const at = (text: string) => issues(svc() + slice(text)).map((i) => `${i.path}: ${i.message}`);
  assert.deepEqual(at(`${good}extra: 1\n`), ['document 2 (EndpointSlice ext-1): extra: unknown field']);
  assert.match(
    at(good.replace('- addresses: [10.200.1.2]', '- addresses: [10.200.1.2]\n  nodename: node-1'))[0]!,
    /endpoints\[0\]\.nodename: unknown field; did you mean 'nodeName'\?/,
  );
  assert.match(
    at(good.replace('{ready: false}', '{redy: false}'))[0]!,
    /endpoints\[1\]\.conditions\.redy: unknown field; did you mean 'ready'\?/,
  );
  assert.match(
    at(good.replace('port: 8080', 'port: "8080"'))[0]!,
    /ports\[0\]\.port: "8080" is a string; expected a number/,
  );
  const v6 = issues(svc() + slice(good).replace('addressType: IPv4', 'addressType: IPv6'));
  assert.equal(v6[0]!.path, 'document 2 (EndpointSlice ext-1): addressType');
  assert.equal(v6[0]!.message, `"IPv6" is not allowed; did you mean 'IPv4'?`);
});

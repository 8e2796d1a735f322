/**
 * Helpers for the service e2e tests: a cluster spec with the seed's pods plus who-am-I echo pods, and a client
 * that makes many connections from inside a namespace (test/helpers/svc-client.py) and reports who answered.
 * Addresses follow the conventions in cli.ts: pods 10.200.0.0/16, services 10.96.0.0/12, outside 203.0.113.0/24.
 */
import { join } from 'node:path';
import { ROOT, run } from './cli.js';

export const ECHO = join(ROOT, 'assets', 'echo.py');
export const CLIENT = join(ROOT, 'test', 'helpers', 'svc-client.py');

export interface ClientReport {
  readonly pods: Record<string, number>;
  readonly clients: Record<string, number>;
  readonly errors: string[];
  readonly seq: string[];
  readonly seconds: number;
}

/** Runs the client inside a named namespace; throws with stderr when it did not produce a report. */
export async function client(
  netns: string,
  kind: 'tcp' | 'udp' | 'http',
  host: string,
  port: number,
  count: number,
  extra: string[] = [],
): Promise<ClientReport> {
  const r = await run([
    'ip',
    'netns',
    'exec',
    netns,
    'python3',
    CLIENT,
    kind,
    host,
    String(port),
    String(count),
    ...extra,
  ]);
  try {
    return JSON.parse(r.stdout) as ClientReport;
  } catch {
    throw new Error(`client in ${netns} failed (exit ${r.code}): ${r.stderr}`);
  }
}

/** Retries a single connection until it is answered (echo pods start asynchronously). */
export async function waitAnswer(
  netns: string,
  kind: 'tcp' | 'http',
  host: string,
  port: number,
  ms = 8000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await client(netns, kind, host, port, 1, ['--timeout', '0.5']);
    if (r.errors.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`no answer from ${host}:${port} in ${netns}: ${r.errors.join('; ')}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const echoPod = (name: string, node: string, labels: Record<string, string>) =>
  `    - {name: ${name}, node: ${node}, labels: ${JSON.stringify(labels)}, containers: [{name: echo, command: [python3, ${ECHO}, ${name}, '9000']}]}`;

/**
 * The seed topology (a0, a1 on node-0, b on node-1, c on node-2) with the seed's service 10.96.0.2:8080 over
 * a0 and b, plus three echo pods on node-2 (several endpoints on one node) and one service per feature.
 */
export function servicesSpec(proxy: 'nftables' | 'iptables'): string {
  return `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: svc}
spec:
  crossNode: vxlan
  proxy: ${proxy}
  outside: true
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
    - {name: node-2, ip: 192.168.64.6}
  pods:
    - {name: a0, node: node-0, labels: {app: web}}
    - {name: a1, node: node-0, labels: {app: client}}
    - {name: b, node: node-1, labels: {app: web}}
    - {name: c, node: node-2, labels: {app: client}}
${echoPod('e1', 'node-2', { app: 'echo', udp: 'yes', pod: 'e1' })}
${echoPod('e2', 'node-2', { app: 'echo', udp: 'yes', pod: 'e2' })}
${echoPod('e3', 'node-2', { app: 'echo', pod: 'e3' })}
  services:
    - metadata: {name: web}
      spec: {clusterIP: 10.96.0.2, selector: {app: web}, ports: [{name: http, port: 8080}]}
    - metadata: {name: echo}
      spec: {clusterIP: 10.96.0.3, selector: {app: echo}, ports: [{name: tcp, port: 9000}]}
    - metadata: {name: echo-udp}
      spec: {clusterIP: 10.96.0.4, selector: {udp: 'yes'}, ports: [{name: udp, protocol: UDP, port: 9000}]}
    - metadata: {name: echo-aff}
      spec:
        clusterIP: 10.96.0.5
        selector: {app: echo}
        sessionAffinity: ClientIP
        sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
        ports: [{port: 9000}]
    - metadata: {name: web-local}
      spec: {clusterIP: 10.96.0.6, internalTrafficPolicy: Local, selector: {app: web}, ports: [{port: 8080}]}
    - metadata: {name: empty}
      spec: {clusterIP: 10.96.0.7, selector: {app: nothing}, ports: [{port: 80}]}
    - metadata: {name: echo-np}
      spec: {type: NodePort, clusterIP: 10.96.0.8, selector: {app: echo}, ports: [{port: 9001, targetPort: 9000, nodePort: 30090}]}
    - metadata: {name: echo-np-local}
      spec:
        type: NodePort
        clusterIP: 10.96.0.9
        externalTrafficPolicy: Local
        selector: {app: echo}
        ports: [{port: 9002, targetPort: 9000, nodePort: 30091}]
`;
}

/**
 * A uniformity check that cannot flake: with n connections over k endpoints each count is Binomial(n, 1/k);
 * the bounds are 6 standard deviations either side (a false failure about once in 10^8 runs), and still
 * catch a broken spread (one endpoint never chosen, or everything on one).
 */
export function uniformBounds(n: number, k: number): [number, number] {
  const mean = n / k;
  const sd = Math.sqrt(n * (1 / k) * (1 - 1 / k));
  return [Math.floor(mean - 6 * sd), Math.ceil(mean + 6 * sd)];
}

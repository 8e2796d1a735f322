/**
 * `podnet lab ui` in a real headless browser (Debian's chromium driven by playwright-core): the topology shows
 * every node and pod, a trace started from the form draws its hops, a pod added to the lab appears without a
 * reload, and the server keeps serving (and says so on /health) when the lab goes away. Screenshots are saved
 * in dist/test-artifacts/ui/.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cli, needsRoot, netnsWithPrefix, ROOT, STATE_DIR, uniqueLab } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'dist', 'test-artifacts', 'ui');
const skip =
  needsRoot ||
  (existsSync(CHROMIUM) ? false : `needs ${CHROMIUM}: apt-get install chromium (scripts/bootstrap.sh)`);

const SPEC = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: ui}
spec:
  crossNode: vxlan
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
    - {name: node-2, ip: 192.168.64.6}
  pods:
    - {name: a0, node: node-0, labels: {app: web}}
    - {name: a1, node: node-0, labels: {app: client}}
    - {name: b, node: node-1, labels: {app: web}}
    - {name: c, node: node-2, labels: {app: client}}
  services:
    - metadata: {name: web}
      spec: {clusterIP: 10.96.0.2, selector: {app: web}, ports: [{name: http, port: 8080}]}
`;

describe('lab ui in headless chromium (real kernel)', { skip }, () => {
  const lab = uniqueLab('ui');
  let server: ChildProcess | undefined;
  let url = '';
  // biome-ignore lint/suspicious/noExplicitAny: playwright types are loaded lazily
  let browser: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  let page: any;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(tempDir('podnet-ui'), 'cluster.yaml');
    writeFileSync(file, SPEC);
    const up = await cli(['lab', 'up', '--name', lab, '-f', file]);
    assert.equal(up.code, 0, up.stderr);
    server = spawn('node', [CLI, 'lab', 'ui', '--name', lab, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, PODNET_STATE_DIR: STATE_DIR },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`lab ui did not start: ${out}`)), 20000);
      server!.stdout!.on('data', (d) => {
        out += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  });

  after(async () => {
    await browser?.close();
    if (server?.pid) {
      const closed = new Promise((r) => server!.on('close', r));
      server.kill('SIGTERM');
      await closed;
    }
    await cli(['lab', 'down', '--name', lab]);
    assert.deepEqual(netnsWithPrefix(`${lab}-`), []);
  });

  test('the topology shows every node and pod with its address', async () => {
    await page.goto(url);
    await page.locator('#topology svg').waitFor({ timeout: 30000 });
    const svg = await page.locator('#topology svg').textContent();
    for (const n of ['node-0', 'node-1', 'node-2']) assert.ok(svg.includes(n), n);
    for (const [p, ip] of [
      ['a0', '10.200.0.2'],
      ['a1', '10.200.0.3'],
      ['b', '10.200.1.2'],
      ['c', '10.200.2.2'],
    ])
      assert.ok(svg.includes(`pod ${p}`) && svg.includes(ip), `pod ${p} ${ip}`);
    assert.equal(await page.locator('#topology svg g.box.node').count(), 3);
    assert.equal(await page.locator('#topology svg g.box.pod').count(), 4);
    await page.locator('#differences li').first().waitFor();
    assert.deepEqual(await page.locator('#differences li.bad').count(), 0, 'every node as desired');
    await page.click('#verify-go');
    await page.waitForFunction(
      () => /passed, \d+ failed/.test(document.getElementById('verify-text')!.textContent ?? ''),
      null,
      {
        timeout: 60000,
      },
    );
    const matrix = await page.locator('#verify-text').textContent();
    assert.match(matrix, /from \\ to/, 'the verify matrix is shown');
    assert.match(matrix, / 0 failed/);
    await page.screenshot({ path: join(ARTIFACTS, '1-topology.png'), fullPage: true });
  });

  test('a trace started from the form draws its numbered hops on the topology', async () => {
    await page.selectOption('#from', 'c');
    await page.fill('#to', 'b');
    await page.click('#trace-go');
    await page.waitForFunction(
      () =>
        /answered|timeout|failed|refused/.test(document.getElementById('trace-status')!.textContent ?? ''),
      null,
      { timeout: 30000 },
    );
    assert.equal(await page.locator('#trace-status').textContent(), 'answered');
    const hops = Number(await page.locator('#trace-status').getAttribute('data-hops'));
    assert.equal(hops, 14, 'c → b over vxlan: 7 hops each way');
    assert.equal(await page.locator('#topology svg g.hop').count(), hops);
    assert.equal(await page.locator('#topology svg polyline.trace.request').count(), 1);
    assert.match(await page.locator('#trace-text').textContent(), /encapsulated by vxlan\.1: VNI 1/);
    await page.screenshot({ path: join(ARTIFACTS, '2-trace.png'), fullPage: true });
  });

  test('a pod added to the lab appears without a reload', async () => {
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    const add = await cli(['lab', 'pod', 'add', '--name', lab, 'd', '--node', 'node-1']);
    assert.equal(add.code, 0, add.stderr);
    await page.waitForFunction(
      () => (document.getElementById('topology')!.dataset.pods ?? '').split(',').includes('d'),
      null,
      {
        timeout: 20000,
      },
    );
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker: number }).marker),
      42,
      'same page, not reloaded',
    );
    assert.ok((await page.locator('#topology svg').textContent()).includes('pod d'));
    assert.equal(await page.locator('#topology svg g.box.pod').count(), 5);
    await page.screenshot({ path: join(ARTIFACTS, '3-pod-added.png'), fullPage: true });
  });

  test('when the lab goes away the page still serves and /health says what failed', async () => {
    const ok = (await (await fetch(`${url}health`)).json()) as { status: string; labUp: boolean };
    assert.deepEqual([ok.status, ok.labUp], ['ok', true]);
    const bad = await fetch(`${url}api/trace`, {
      method: 'POST',
      body: JSON.stringify({ from: 'c', to: 'nowhere' }),
    });
    assert.equal(bad.status, 400, 'bad input is a 400, not a failure of the server');
    await cli(['lab', 'down', '--name', lab]);
    const topo = await fetch(`${url}api/topology`);
    assert.equal(topo.status, 500);
    assert.match(((await topo.json()) as { error: string }).error, /no lab named/);
    const h = (await (await fetch(`${url}health`)).json()) as {
      status: string;
      labUp: boolean;
      failing: Record<string, string>;
    };
    assert.deepEqual([h.status, h.labUp], ['degraded', false]);
    assert.match(h.failing['/api/topology'] ?? '', /no lab named/);
    assert.equal((await fetch(url)).status, 200, 'the page is still served');
    await page.reload();
    await page.locator('#topology').waitFor();
    await page.waitForFunction(
      () => /unavailable/.test(document.getElementById('topology')!.textContent ?? ''),
      null,
      { timeout: 10000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, '4-lab-gone.png'), fullPage: true });
  });
});

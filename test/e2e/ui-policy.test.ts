/**
 * `podnet lab ui` on a lab with NetworkPolicy, in Debian's headless chromium (playwright-core): the policy matrix
 * shows the evaluator's expectation for every cell, a button probes every cell (`verify --policies`) and shows
 * what the kernel did, a policy applied to the lab changes the matrix without a reload, a policy set damaged by
 * hand shows as the node's desired-vs-observed difference and as a mismatched cell, and a trace from the form
 * names the policy that dropped the probe. Screenshots go to dist/test-artifacts/ui-policy/.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cli, needsRoot, netnsWithPrefix, ROOT, run, STATE_DIR, uniqueLab } from '../helpers/cli.js';
import { policyLabFile } from '../helpers/policy-lab.js';
import { tempDir } from '../helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'dist', 'test-artifacts', 'ui-policy');
const skip =
  needsRoot ||
  (existsSync(CHROMIUM) ? false : `needs ${CHROMIUM}: apt-get install chromium (scripts/bootstrap.sh)`);

const PODS = ['x/a', 'y/b', 'y/c'];
/** What the lab's policies allow (test/helpers/policy-lab.ts), written out by hand: every other cell is denied. */
const ALLOWED = new Set(['x/a>x/a', 'y/b>y/b', 'y/c>y/c', 'x/a>y/b tcp/8080']);
const allowedCell = (from: string, to: string, pp: string, extra: Set<string>) =>
  ALLOWED.has(`${from}>${to}`) || ALLOWED.has(`${from}>${to} ${pp}`) || extra.has(`${from}>${to} ${pp}`);

describe('lab ui: the policy matrix in headless chromium (real kernel)', { skip }, () => {
  const lab = uniqueLab('uip');
  let server: ChildProcess | undefined;
  let url = '';
  // biome-ignore lint/suspicious/noExplicitAny: playwright types are loaded lazily
  let browser: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  let page: any;

  /** Every cell of the page's matrix: its expectation and, once probed, its observation. */
  const cells = (): Promise<
    { from: string; to: string; port: string; expected: string; observed?: string }[]
  > => page.$$eval('#policy-matrix td.cell', (tds: HTMLElement[]) => tds.map((td) => ({ ...td.dataset })));

  async function probe(): Promise<void> {
    await page.click('#policy-probe');
    await page.waitForFunction(
      () => /^observed: /.test(document.getElementById('policy-status')!.textContent ?? ''),
      null,
      { timeout: 60000 },
    );
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const up = await cli(['lab', 'up', '--name', lab, '-f', policyLabFile()]);
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
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
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

  test("the matrix shows the evaluator's expectation, then every cell probed on the kernel", async () => {
    await page.goto(url);
    await page.locator('#policy-matrix td.cell').first().waitFor({ timeout: 30000 });
    assert.equal(
      await page.locator('#policy-list').textContent(),
      '3 policies: x/deny-in, y/deny-in, y/from-x',
    );
    const expected = await cells();
    assert.equal(expected.length, PODS.length * PODS.length * 2, '3 × 3 pods on tcp/8080 and tcp/8081');
    for (const c of expected) {
      assert.equal(c.observed, undefined, 'not probed yet');
      assert.equal(
        c.expected,
        String(allowedCell(c.from, c.to, c.port, new Set())),
        `${c.from} → ${c.to} ${c.port}`,
      );
    }
    await page.locator('#differences li').first().waitFor();
    assert.equal(await page.locator('#differences li.bad').count(), 0, 'every node as desired');
    await probe();
    const probed = await cells();
    for (const c of probed) assert.equal(c.observed, c.expected, `${c.from} → ${c.to} ${c.port} observed`);
    assert.equal(await page.locator('#policy-matrix td.mismatch').count(), 0);
    assert.match(
      await page.locator('#policy-status').textContent(),
      /18 of 18 cells match the evaluator, 0 mismatch/,
    );
    await page.screenshot({ path: join(ARTIFACTS, '1-policy-matrix-probed.png'), fullPage: true });
  });

  test('a trace from the form names the policy that dropped the probe', async () => {
    await page.selectOption('#from', 'y-b');
    await page.fill('#to', 'x-a');
    await page.click('#trace-go');
    await page.waitForFunction(
      () =>
        /answered|timeout|failed|refused/.test(document.getElementById('trace-status')!.textContent ?? ''),
      null,
      { timeout: 30000 },
    );
    assert.equal(await page.locator('#trace-status').textContent(), 'timeout');
    const text = await page.locator('#trace-text').textContent();
    assert.match(text, /answer: dropped at node-0 by policy x\/deny-in \(ingress of x\/a: isolated/);
    await page.screenshot({ path: join(ARTIFACTS, '2-trace-policy-drop.png'), fullPage: true });
  });

  test('a policy applied to the lab changes the matrix without a reload', async () => {
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 7;
    });
    const f = join(tempDir('podnet-ui-policy'), 'allow.yaml');
    writeFileSync(
      f,
      JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'from-y', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { pod: 'a' } },
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 8081 }] }],
        },
      }),
    );
    const r = await cli(['lab', 'policy', 'apply', '--name', lab, '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    await page.waitForFunction(
      () => /4 policies/.test(document.getElementById('policy-list')!.textContent ?? ''),
      null,
      { timeout: 20000 },
    );
    assert.equal(
      await page.evaluate(() => (window as unknown as { marker: number }).marker),
      7,
      'not reloaded',
    );
    const extra = new Set(['y/b>x/a tcp/8081', 'y/c>x/a tcp/8081']);
    for (const c of await cells())
      assert.equal(
        c.expected,
        String(allowedCell(c.from, c.to, c.port, extra)),
        `${c.from} → ${c.to} ${c.port}`,
      );
    await probe();
    assert.equal(
      await page.locator('#policy-matrix td.mismatch').count(),
      0,
      'the kernel enforces the new policy',
    );
  });

  test("a policy set damaged by hand is the node's difference and a mismatched cell", async () => {
    const flush = await run([
      'ip',
      'netns',
      'exec',
      `${lab}-node-0`,
      'nft',
      'flush',
      'set',
      'inet',
      'podnet-policy',
      'ingress-x-a-ports',
    ]);
    assert.equal(flush.code, 0, flush.stderr);
    await page.click('#differences-go');
    await page.waitForFunction(
      () => /ingress-x-a-ports/.test(document.getElementById('differences')!.textContent ?? ''),
      null,
      { timeout: 30000 },
    );
    const bad = await page.locator('#differences li.bad').allTextContents();
    assert.equal(bad.length, 1, bad.join('\n'));
    assert.match(bad[0], /^node-0: .*ingress-x-a-ports/);
    await probe();
    const wrong = await page.$$eval('#policy-matrix td.mismatch', (tds: HTMLElement[]) =>
      tds.map((td) => `${td.dataset.from} → ${td.dataset.to} ${td.dataset.port} ${td.textContent}`),
    );
    assert.deepEqual(wrong.sort(), ['y/b → x/a tcp/8081 X!', 'y/c → x/a tcp/8081 X!']);
    await page.screenshot({ path: join(ARTIFACTS, '3-policy-drift.png'), fullPage: true });
    const fix = await cli(['lab', 'reconcile', '--name', lab]);
    assert.equal(fix.code, 0, fix.stderr);
    await page.click('#differences-go');
    await page.waitForFunction(
      () =>
        document.querySelectorAll('#differences li').length > 0 &&
        !document.querySelector('#differences li.bad'),
      null,
      { timeout: 30000 },
    );
  });
});

import { statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PodnetError } from '../../errors.js';
import { diagramSvg } from '../diagram/index.js';
import { type LoadedLab, loadLab } from '../load.js';
import { labStatus } from '../status.js';
import { formatTrace } from '../trace/format.js';
import { traceLab } from '../trace/run.js';
import { formatReport, verifyLab } from '../verify.js';
import { nodeDifferences } from './differences.js';
import { PAGE } from './page.js';
import { policyMatrix } from './policies.js';

/**
 * `podnet lab ui`: a small HTTP server on loopback with one page (page.ts, plain HTML + script, no build step)
 * and a JSON API: the topology SVG, the verify matrix, each node's desired-vs-observed differences, traces.
 * It re-reads the lab on every request and pushes a `change` event (Server-Sent Events) when the lab's state
 * files change, so the page follows `lab pod add` without a reload. A failing request is answered with its
 * error and counted on /health; the server itself keeps serving (also when the lab goes away).
 */

export interface UiHealth {
  status: 'ok' | 'degraded';
  lab: string;
  labUp: boolean;
  requests: number;
  failures: number;
  /** Bad requests (a trace to nowhere): answered 400, the server is not degraded by them. */
  rejected: number;
  lastError?: { at: string; path: string; message: string };
  /** Paths whose last request failed on our side (cleared by their next success). */
  failing: Record<string, string>;
  uptimeS: number;
}

export interface UiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const STATE_FILES = ['lab.json', 'allocations.json', 'services.json', 'policy.json', 'pids'];

export async function startUi(lab: string, host: string, port: number): Promise<UiServer> {
  const started = Date.now();
  const health: UiHealth = {
    status: 'ok',
    lab,
    labUp: true,
    requests: 0,
    failures: 0,
    rejected: 0,
    failing: {},
    uptimeS: 0,
  };
  const clients = new Set<ServerResponse>();

  const fingerprint = (): string => {
    try {
      const l = loadLabQuiet();
      return STATE_FILES.map((f) => {
        try {
          const s = statSync(l.state.path(f));
          return `${f}:${s.mtimeMs}:${s.size}`;
        } catch {
          return `${f}:-`;
        }
      }).join('|');
    } catch {
      return 'no lab';
    }
  };
  const loadLabQuiet = (): LoadedLab => loadLab(lab);

  let last = fingerprint();
  const watcher = setInterval(() => {
    const now = fingerprint();
    if (now === last) return;
    last = now;
    for (const c of clients)
      c.write(`event: change\ndata: ${JSON.stringify({ at: new Date().toISOString() })}\n\n`);
  }, 300);

  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const body = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      let b = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        b += d;
        if (b.length > 65536) reject(new Error('request body too large'));
      });
      req.on('end', () => resolve(b));
      req.on('error', reject);
    });

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    'GET /': async (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    },
    'GET /health': async (_q, res) => {
      let up = true;
      try {
        loadLabQuiet();
      } catch {
        up = false;
      }
      health.labUp = up;
      health.status = up && Object.keys(health.failing).length === 0 ? 'ok' : 'degraded';
      health.uptimeS = Math.round((Date.now() - started) / 1000);
      json(res, 200, health);
    },
    'GET /api/topology': async (_q, res) => {
      const l = loadLabQuiet();
      json(res, 200, {
        lab,
        svg: await diagramSvg(l.cluster, lab),
        nodes: l.cluster.nodes.map((n) => ({
          name: n.name,
          ip: n.ip.toString(),
          podCIDR: n.podCIDR.toString(),
        })),
        pods: l.cluster.pods.map((p) => ({ name: p.name, node: p.node, ip: p.ip.toString() })),
        services: l.cluster.services.map((s) => ({
          name: `${s.namespace}/${s.name}`,
          clusterIP: s.clusterIP.toString(),
        })),
      });
    },
    'GET /api/verify': async (_q, res) => {
      const l = loadLabQuiet();
      const r = await verifyLab(lab, l.cluster, l.pausePids);
      json(res, 200, { passed: r.passed, failed: r.failed, text: formatReport(l.cluster, r) });
    },
    'GET /api/policies': async (q, res) => {
      const l = loadLabQuiet();
      const probe = new URL(q.url ?? '/', 'http://x').searchParams.get('probe') === '1';
      json(res, 200, await policyMatrix(lab, l, probe));
    },
    'GET /api/differences': async (_q, res) => {
      const l = loadLabQuiet();
      json(res, 200, await nodeDifferences(l, await labStatus(l)));
    },
    'POST /api/trace': async (req, res) => {
      const q = JSON.parse((await body(req)) || '{}') as { from?: string; to?: string; proto?: string };
      const l = loadLabQuiet();
      const r = await traceLab(lab, l.cluster, {
        from: String(q.from ?? ''),
        to: String(q.to ?? ''),
        ...(q.proto ? { proto: String(q.proto) } : {}),
      });
      json(res, 200, { report: r, text: formatTrace(r), svg: await diagramSvg(l.cluster, lab, r) });
    },
    'GET /events': async (req, res) => {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write('event: hello\ndata: {}\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
    },
  };

  // A backstop for a long-running page: a stray background rejection (a read of a namespace that just went
  // away) is counted on /health instead of ending the process that keeps serving.
  const stray = (e: unknown) => {
    health.failures++;
    health.lastError = { at: new Date().toISOString(), path: '(background)', message: String(e) };
  };
  process.on('unhandledRejection', stray);

  const server = createServer((req, res) => {
    health.requests++;
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = routes[`${req.method} ${path}`];
    if (!handler) return json(res, 404, { error: `no ${req.method} ${path}` });
    handler(req, res).then(
      () => {
        delete health.failing[path];
      },
      (e: unknown) => {
        const message = e instanceof Error ? e.message : String(e);
        // Bad input (a trace to nowhere) is the user's; anything else is ours and degrades /health.
        const code = e instanceof PodnetError && e.code === 'CONFIG_INVALID' ? 400 : 500;
        if (code === 400) health.rejected++;
        else {
          health.failures++;
          health.failing[path] = message;
          health.lastError = { at: new Date().toISOString(), path, message };
        }
        if (!res.headersSent) json(res, code, { error: message });
        else res.end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address}:${a.port}/`,
    server,
    async close() {
      clearInterval(watcher);
      process.off('unhandledRejection', stray);
      for (const c of clients) c.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

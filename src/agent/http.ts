import http from 'node:http';
import type { AgentHealth } from './agent.js';
import type { AgentMetrics } from './metrics.js';

/**
 * `/healthz` (200 healthy, 503 not: JSON body with the lease, the datastore, the last sync) and `/metrics`
 * (Prometheus text format). Resolves with the bound port (the config may ask for port 0).
 */
export function serveAgentHttp(
  listen: { host: string; port: number },
  health: () => AgentHealth,
  metrics: AgentMetrics,
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const h = health();
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(h)}\n`);
    } else if (path === '/metrics') {
      metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        },
        (e: Error) => {
          res.writeHead(500);
          res.end(e.message);
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /healthz or /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as { port: number }).port });
    });
  });
}

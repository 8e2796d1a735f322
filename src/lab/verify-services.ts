import type { Cluster } from '../model/resolve.js';
import { buildProxyModel } from '../plan/services/model.js';
import { IDENTITY_PORTS } from './plan.js';
import { connected, type Probe, runProbes } from './verify.js';

/** One row of verify's services section: one service port probed from one pod. */
export interface ServiceCheck {
  readonly service: string;
  readonly from: string;
  readonly target: string;
  /** Endpoints this pod's node may send the portal to (empty: the portal must refuse). */
  readonly expected: readonly string[];
  /** Answers per endpoint pod. */
  readonly answers: Readonly<Record<string, number>>;
  readonly failures: number;
  readonly ok: boolean;
  readonly detail: string;
}

/** Connections per (pod, service port): enough to see more than one endpoint, cheap enough for every pair. */
export const CONNECTIONS = 12;

const identityPorts = new Set<number>(Object.values(IDENTITY_PORTS));

/**
 * Every TCP service port whose endpoints are identity pods (they tell who answered), from every pod: each
 * answer must come from an endpoint the pod's node may use, and a portal without endpoints must refuse.
 */
export async function verifyServices(lab: string, cluster: Cluster): Promise<ServiceCheck[]> {
  // No proxy (proxy: none): ClusterIPs are another component's; nothing of podnet's to check.
  if (cluster.spec.sameNode !== 'bridge' || cluster.spec.proxy === 'none') return [];
  const probes: Probe[] = [];
  const rows: { service: string; from: string; target: string; expected: string[] }[] = [];
  const models = new Map(cluster.nodes.map((n) => [n.name, buildProxyModel(cluster, n.name)]));
  const podByName = new Map(cluster.pods.map((p) => [p.name, p]));
  for (const src of cluster.pods) {
    for (const s of models.get(src.node)?.services ?? []) {
      if (s.protocol !== 'tcp') continue;
      // Endpoints that are not lab pods (an EndpointSlice may list any address) tell no identity.
      const found = s.endpoints.map((e) => podByName.get(e.pod));
      if (found.some((p) => p === undefined)) continue;
      const eps = found as NonNullable<(typeof found)[number]>[];
      if (!s.endpoints.every((e) => identityPorts.has(e.port)) || eps.some((p) => p.containers.length > 0))
        continue;
      if (eps.some((p) => p.name !== src.name && !connected(cluster, src, p))) continue;
      const target = `${s.clusterIP}:${s.port}`;
      rows.push({ service: s.id, from: src.name, target, expected: eps.map((p) => p.name) });
      for (let i = 0; i < CONNECTIONS; i++)
        probes.push({
          id: `${src.name}>${s.id}#${i}`,
          from: src.name,
          to: s.id,
          kind: 'tcp',
          host: s.clusterIP,
          port: s.port,
        });
    }
  }
  const first = await runProbes(lab, probes);
  // A connection that failed is tried once more, alone: on a loaded 2-core machine a SYN can be lost twice in
  // the 2 s budget when twelve leave at once. A broken path fails both times; the retry count is reported.
  const expectsAnswer = new Set(
    rows.filter((r) => r.expected.length > 0).map((r) => `${r.from}>${r.service}`),
  );
  const again = first.filter((r) => !r.ok && expectsAnswer.has(`${r.from}>${r.to}`));
  const retried = new Map((again.length ? await runProbes(lab, again) : []).map((r) => [r.id, r]));
  const results = first.map((r) => retried.get(r.id) ?? r);
  const retries = new Map<string, number>();
  for (const r of again) retries.set(`${r.from}>${r.to}`, (retries.get(`${r.from}>${r.to}`) ?? 0) + 1);
  return rows.map((row) => {
    const mine = results.filter((r) => r.from === row.from && r.to === row.service);
    const answers: Record<string, number> = {};
    let failures = 0;
    let wrong = 0;
    for (const r of mine) {
      if (!r.ok) {
        failures++;
        continue;
      }
      const pod = /^pod=(\S+)/.exec(r.answer ?? '')?.[1] ?? '?';
      answers[pod] = (answers[pod] ?? 0) + 1;
      if (!row.expected.includes(pod)) wrong++;
    }
    const refusing = row.expected.length === 0;
    const ok = refusing
      ? failures === mine.length && mine.every((r) => /refused/i.test(r.error ?? ''))
      : failures === 0 && wrong === 0;
    const spread = Object.entries(answers)
      .map(([p, n]) => `${p}:${n}`)
      .join(' ');
    const firstError = mine.find((r) => !r.ok)?.error;
    const detail = refusing
      ? `no endpoints: ${failures}/${mine.length} failed${ok ? ' (refused)' : `: ${firstError ?? 'answered'}`}`
      : `${spread || 'no answer'}${failures ? `, ${failures} failed (${firstError ?? 'no answer'})` : ''}${wrong ? `, ${wrong} from non-endpoints` : ''}${retries.get(`${row.from}>${row.service}`) ? `, ${retries.get(`${row.from}>${row.service}`)} retried` : ''}`;
    return { ...row, answers, failures, ok, detail };
  });
}

/** The services section of verify's table. */
export function formatServices(checks: readonly ServiceCheck[]): string[] {
  if (checks.length === 0) return [];
  const out = ['', `services (${CONNECTIONS} connections per pod and service port; answers per endpoint):`];
  for (const c of checks)
    out.push(`  ${c.ok ? '✓' : '✗'} ${c.from.padEnd(8)} -> ${c.service} ${c.target}: ${c.detail}`);
  return out;
}

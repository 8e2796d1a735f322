import { ConfigError, type ConfigIssue, StateError } from '../errors.js';
import type { ClusterSpec } from '../model/cluster.js';
import { allocationsOf, type Cluster } from '../model/resolve.js';
import { type ServiceSpec, serviceKey } from '../model/service.js';
import { checkServices, parseServiceManifest } from '../model/service-manifest.js';
import type { DocWhere } from '../model/strict.js';
import type { Op } from '../plan/ops.js';
import type { LabNames } from './names.js';
import { repairOps, syncLabNodes } from './node-sync.js';
import { LabProxyChange } from './proxy-change.js';
import type { ProxyTouch } from './proxy-part.js';
import { keepProxyUses, type ProxyUsesRecords } from './proxy-uses.js';
import { hostRunner } from './runners.js';
import type { LabState } from './state.js';

/**
 * The lab's services at run time: `service add|remove` recorded over the lab's spec, and the node sync that
 * brings every node's proxy in line afterwards.
 */

// Services added or removed at run time, kept in the lab's state.

/** Services changed with `podnet lab service add|remove`, applied over the lab's spec. */
export interface ServiceOverlay {
  /** Raw Kubernetes Service manifests, by namespace/name. */
  readonly added: Readonly<Record<string, unknown>>;
  readonly removed: readonly string[];
}

export function loadOverlay(state: LabState): ServiceOverlay {
  return state.readJson<ServiceOverlay>('services.json') ?? { added: {}, removed: [] };
}

/** The lab's spec with run-time service changes applied; throws ConfigError if they no longer fit. */
export function overlayServices(spec: ClusterSpec, state: LabState): ClusterSpec {
  const o = loadOverlay(state);
  if (Object.keys(o.added).length === 0 && o.removed.length === 0) return spec;
  const issues: ConfigIssue[] = [];
  const added = Object.entries(o.added).flatMap(([k, doc]) => {
    const s = parseServiceManifest(doc, `service '${k}': `, issues);
    return s ? [s] : [];
  });
  const gone = new Set([...o.removed, ...added.map(serviceKey)]);
  const services = [...(spec.services ?? []).filter((s) => !gone.has(serviceKey(s))), ...added];
  checkServices(
    services.map((svc) => ({ svc, at: `service '${serviceKey(svc)}': ` })),
    spec.serviceCIDR,
    issues,
  );
  if (issues.length) throw new ConfigError(issues, `${state.dir}/services.json`);
  return { ...spec, services };
}

/**
 * Brings every node's proxy to the cluster's current services and endpoints after `touch` changed: where the
 * node's table is known (proxy-change.ts), only the touched Services' elements change, planned from their
 * ports alone; every other node is observed and synced whole to its model (node-sync.ts). Records the
 * ClusterIP allocations, and what the next change may trust. What `service add|remove` runs.
 */
export async function syncLabServices(
  prev: Cluster,
  next: Cluster,
  touch: ProxyTouch,
  state: LabState,
  names: LabNames,
  records: ProxyUsesRecords,
  opts: { verbose?: boolean } = {},
): Promise<{ ops: Op[]; ms: number; partial: number }> {
  const started = performance.now();
  const runner = hostRunner(opts.verbose ?? false);
  const change = new LabProxyChange(prev, next, touch, names, records);
  try {
    const nodes = next.nodes.map((n) => n.name);
    const part = await change.sync(runner, nodes);
    const report = part.whole.length ? await syncLabNodes(next, names, runner, { only: part.whole }) : [];
    state.writeJson('allocations.json', allocationsOf(next));
    keepProxyUses(state, change.finish(report));
    return {
      ops: [...part.ops, ...repairOps(report)],
      ms: performance.now() - started,
      partial: nodes.length - part.whole.length,
    };
  } finally {
    change.close();
  }
}

/** A Service manifest from command-line flags: `--selector app=web --port 80[:8080][/udp]`. */
export function manifestFromFlags(f: {
  name: string;
  namespace?: string;
  selector?: string;
  port?: string;
  clusterIP?: string;
  nodePort?: string;
  affinity?: boolean;
  internalLocal?: boolean;
}): unknown {
  const issues: ConfigIssue[] = [];
  const selector: Record<string, string> = {};
  for (const kv of (f.selector ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=', 2);
    if (!k || v === undefined) issues.push({ path: '--selector', message: `'${kv}' is not key=value` });
    else selector[k] = v;
  }
  if (!f.selector)
    issues.push({ path: '--selector', message: 'is missing', hint: 'e.g. --selector app=web' });
  const m = /^(\d+)(?::(\d+))?(?:\/(tcp|udp))?$/i.exec(f.port ?? '');
  if (!m)
    issues.push({
      path: '--port',
      message: `'${f.port ?? ''}' is not PORT[:TARGET][/tcp|udp]`,
      hint: 'e.g. --port 80:8080',
    });
  if (issues.length) throw new ConfigError(issues, 'command line');
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: f.name, ...(f.namespace ? { namespace: f.namespace } : {}) },
    spec: {
      ...(f.nodePort ? { type: 'NodePort' } : {}),
      ...(f.clusterIP ? { clusterIP: f.clusterIP } : {}),
      selector,
      ports: [
        {
          protocol: (m![3] ?? 'tcp').toUpperCase(),
          port: Number(m![1]),
          targetPort: Number(m![2] ?? m![1]),
          ...(f.nodePort ? { nodePort: Number(f.nodePort) } : {}),
        },
      ],
      ...(f.affinity ? { sessionAffinity: 'ClientIP' } : {}),
      ...(f.internalLocal ? { internalTrafficPolicy: 'Local' } : {}),
    },
  };
}

/** Records added services in the lab's overlay (validated against the spec by the caller's reload). */
export function recordAdded(
  state: LabState,
  docs: readonly unknown[],
  wheres: readonly DocWhere[] = [],
  source = 'service',
): ServiceSpec[] {
  const issues: ConfigIssue[] = [];
  const specs = docs.flatMap((d, i) => {
    const s = parseServiceManifest(d, wheres[i] ?? (docs.length > 1 ? `document ${i + 1}: ` : ''), issues);
    return s ? [s] : [];
  });
  if (issues.length) throw new ConfigError(issues, source);
  const o = loadOverlay(state);
  const added: Record<string, unknown> = { ...o.added };
  specs.forEach((s, i) => {
    added[serviceKey(s)] = docs[i];
  });
  const keys = new Set(specs.map(serviceKey));
  state.writeJson('services.json', { added, removed: o.removed.filter((k) => !keys.has(k)) });
  return specs;
}

export function recordRemoved(state: LabState, cluster: Cluster, keys: readonly string[]): void {
  const known = new Set(cluster.services.map(serviceKey));
  const missing = keys.filter((k) => !known.has(k));
  if (missing.length)
    throw new StateError(
      `no service ${missing.map((k) => `'${k}'`).join(', ')} in this lab; it has: ${[...known].join(', ') || 'none'}`,
    );
  const o = loadOverlay(state);
  const added = Object.fromEntries(Object.entries(o.added).filter(([k]) => !keys.includes(k)));
  state.writeJson('services.json', { added, removed: [...new Set([...o.removed, ...keys])] });
}

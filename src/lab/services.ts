import { fileURLToPath } from 'node:url';
import { describe } from '../apply/apply.js';
import { ApplyError, ConfigError, type ConfigIssue, StateError } from '../errors.js';
import { isNothingToDelete, ProcessRunner } from '../exec/process-runner.js';
import type { ClusterSpec } from '../model/cluster.js';
import { allocationsOf, type Cluster } from '../model/resolve.js';
import { checkServices, parseServiceManifest, type ServiceSpec, serviceKey } from '../model/service.js';
import type { DocWhere } from '../model/strict.js';
import type { Op, Phase, Plan } from '../plan/ops.js';
import { buildProxyModel, type ProxyModel } from '../plan/services/model.js';
import { planProxySync } from '../plan/services/plan.js';
import { render } from '../render/index.js';
import type { LabNames } from './names.js';
import type { LabPaths } from './plan.js';
import type { LabState } from './state.js';

/**
 * The lab's services: the per-node proxy phase of `lab up`, the "outside" world beyond the underlay, and live
 * syncs after `service add|remove` or pod changes (each node gets only what changed since its last sync).
 */

/** The outside world (TEST-NET-3): a router on the underlay's .1 and one host behind it running a server. */
export const OUTSIDE = {
  routerUnderlayIfname: 'eth0',
  routerIp: '203.0.113.1',
  hostIp: '203.0.113.10',
  prefix: 24,
  port: 80,
  pod: 'outside',
} as const;

export const ECHO_SCRIPT = fileURLToPath(new URL('../../../assets/echo.py', import.meta.url));

/** The proxy model of every node, by node name. */
export function proxyModels(cluster: Cluster): Record<string, ProxyModel> {
  return Object.fromEntries(cluster.nodes.map((n) => [n.name, buildProxyModel(cluster, n.name)]));
}

/** One sync of every node's proxy (pure). `prev` is what each node got last; absent: a first, full sync. */
export function planLabServices(
  cluster: Cluster,
  names: LabNames,
  prev: Readonly<Record<string, ProxyModel>> = {},
): Op[] {
  if (cluster.spec.sameNode !== 'bridge') return [];
  const models = proxyModels(cluster);
  return cluster.nodes.flatMap((n) =>
    planProxySync({
      netns: names.node(n.name),
      ...(prev[n.name] ? { prev: prev[n.name] } : {}),
      next: models[n.name]!,
      bridge: cluster.spec.bridge,
    }),
  );
}

/** `lab up`'s plan with the service proxy phase (before the containers start) and, if asked, the outside. */
export function withServices(plan: Plan, cluster: Cluster, names: LabNames, paths: LabPaths): Plan {
  const extra = new Map<string, Op[]>();
  const add = (title: string, ...ops: Op[]) => extra.set(title, [...(extra.get(title) ?? []), ...ops]);
  if (cluster.spec.outside) planOutside(cluster, names, paths, add);
  const out: Phase[] = [];
  for (const phase of plan) {
    if (phase.title === 'containers' && cluster.spec.sameNode === 'bridge')
      out.push({ title: 'services', ops: planLabServices(cluster, names) });
    out.push({ title: phase.title, ops: [...phase.ops, ...(extra.get(phase.title) ?? [])] });
  }
  return out;
}

/**
 * A router namespace on the underlay's reserved .1 address, with a second leg to an "outside" host
 * (203.0.113.10) that runs the who-am-I server. The router knows no pod CIDR: only masqueraded pod traffic
 * (source: a node's underlay address) can get an answer back, which is what the egress test checks.
 */
function planOutside(
  cluster: Cluster,
  names: LabNames,
  paths: LabPaths,
  add: (title: string, ...ops: Op[]) => void,
) {
  const router = names.node('router');
  const routerNs = names.nodeNs('router');
  const hostNs = names.podNs(OUTSIDE.pod);
  const pid = names.pidVar(OUTSIDE.pod);
  const sw = { kind: 'named' as const, name: names.switchNs };
  const gw = cluster.spec.underlay.subnet.network.add(1).toString();
  const prefix = cluster.spec.underlay.subnet.prefix;
  add('namespaces', {
    kind: 'netns.add',
    name: routerNs,
    note: 'outside: a router between the underlay and the outside world',
  });
  add('pause', {
    kind: 'pod.pause',
    pod: OUTSIDE.pod,
    pid,
    log: paths.log(OUTSIDE.pod, 'pause'),
    note: 'outside: a host beyond the router (its own namespaces, like a pod)',
  });
  add('sandboxes', {
    kind: 'netns.attach',
    name: hostNs,
    pid,
    note: `outside: name the outside host's network namespace ${hostNs}`,
  });
  add(
    'cables',
    {
      kind: 'link.add-veth',
      netns: sw,
      name: 'sw-router',
      peer: OUTSIDE.routerUnderlayIfname,
      peerNetns: router,
      note: 'outside: cable the router to the underlay switch',
    },
    {
      kind: 'link.set',
      netns: sw,
      name: 'sw-router',
      master: 'sw0',
      up: true,
      note: 'outside: plug the router into the switch',
    },
    {
      kind: 'link.add-veth',
      netns: router,
      name: 'ext0',
      peer: 'eth0',
      peerNetns: { kind: 'named', name: hostNs },
      note: 'outside: cable the router to the outside host',
    },
  );
  const host = { kind: 'named' as const, name: hostNs };
  add(
    'pod interfaces',
    { kind: 'link.set', netns: router, name: 'lo', up: true, note: 'outside: router loopback up' },
    {
      kind: 'addr.add',
      netns: router,
      dev: 'eth0',
      cidr: `${gw}/${prefix}`,
      note: "outside: the router is the underlay's gateway (.1)",
    },
    { kind: 'link.set', netns: router, name: 'eth0', up: true, note: 'outside: router underlay leg up' },
    {
      kind: 'addr.add',
      netns: router,
      dev: 'ext0',
      cidr: `${OUTSIDE.routerIp}/${OUTSIDE.prefix}`,
      note: 'outside: router outside leg',
    },
    { kind: 'link.set', netns: router, name: 'ext0', up: true, note: 'outside: router outside leg up' },
    {
      kind: 'sysctl.set',
      netns: router,
      key: 'net.ipv4.ip_forward',
      value: '1',
      note: 'outside: the router forwards',
    },
    { kind: 'link.set', netns: host, name: 'lo', up: true, note: 'outside: host loopback up' },
    {
      kind: 'addr.add',
      netns: host,
      dev: 'eth0',
      cidr: `${OUTSIDE.hostIp}/${OUTSIDE.prefix}`,
      note: 'outside: the outside host address',
    },
    { kind: 'link.set', netns: host, name: 'eth0', up: true, note: 'outside: host interface up' },
    {
      kind: 'route.replace',
      netns: host,
      dst: 'default',
      via: OUTSIDE.routerIp,
      note: 'outside: host default route via the router',
    },
    ...cluster.nodes.map(
      (n): Op => ({
        kind: 'route.replace',
        netns: names.node(n.name),
        dst: 'default',
        via: gw,
        note: `${n.name}: default route via the underlay's router, the way out of the cluster`,
      }),
    ),
  );
  add('containers', {
    kind: 'pod.container',
    pid,
    pod: OUTSIDE.pod,
    container: {
      name: 'echo',
      command: ['python3', ECHO_SCRIPT, OUTSIDE.pod, String(OUTSIDE.port)],
      log: paths.log(OUTSIDE.pod, 'echo'),
    },
    note: `outside: a server on ${OUTSIDE.hostIp}:${OUTSIDE.port} answering with the client address it sees`,
  });
}

// ---------------------------------------------------------------------------------------------------------
// State: the models applied last (so the next sync is a diff) and services added or removed at run time.

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

export function loadProxyModels(state: LabState): Record<string, ProxyModel> {
  return state.readJson<Record<string, ProxyModel>>('proxy.json') ?? {};
}

export function saveProxyModels(state: LabState, cluster: Cluster): void {
  state.writeJson('proxy.json', proxyModels(cluster));
}

/**
 * Brings every node's proxy to the cluster's current services and endpoints: a partial sync per node (only
 * changed elements or chains), then records the new models and ClusterIP allocations. What `service add|remove`
 * runs, and what pod add/remove should call after changing pods.
 */
export async function syncLabServices(
  cluster: Cluster,
  state: LabState,
  names: LabNames,
  opts: { verbose?: boolean } = {},
): Promise<{ ops: Op[]; ms: number }> {
  const started = performance.now();
  const ops = planLabServices(cluster, names, loadProxyModels(state));
  await runSyncOps(ops, new ProcessRunner({ verbose: opts.verbose ?? false }));
  saveProxyModels(state, cluster);
  state.writeJson('allocations.json', allocationsOf(cluster));
  return { ops, ms: performance.now() - started };
}

/** Runs sync ops in order; a conntrack delete that found nothing is not a failure. */
export async function runSyncOps(ops: readonly Op[], runner: ProcessRunner): Promise<void> {
  for (const [i, op] of ops.entries()) {
    try {
      await runner.run(render(op));
    } catch (err) {
      if (op.kind === 'conntrack.delete' && isNothingToDelete(err)) continue;
      throw new ApplyError(describe(op), i, ops.length, { cause: err });
    }
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

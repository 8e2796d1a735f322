import { writeFileSync } from 'node:fs';
import type { ConfigIssue } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { parseNamespace, parseNetworkPolicy } from '../model/policy/parse.js';
import type { ContainerPort, NamespaceSpec, NetworkPolicy, Protocol } from '../model/policy/types.js';
import type { Cluster } from '../model/resolve.js';
import { Ip } from '../net/ip.js';
import { parseConntrack } from '../observe/conntrack.js';
import type { NodeModel } from '../plan/node/model.js';
import { HOST } from '../plan/ops.js';
import { planPolicyCuts } from '../plan/policy/cut.js';
import type { PolicyPod, PolicyWorld } from '../plan/policy/evaluate.js';
import type { PolicyNodeModel } from '../plan/policy/model.js';
import { stricter } from '../plan/policy/plan.js';
import { PolicyPlanner } from '../plan/policy/planner.js';
import { conntrackDeletions, render } from '../render/index.js';
import { listConntrack } from '../render/observe.js';
import type { Logger } from './log.js';
import type { ObjectFeed, PolicyKind } from './policy-feeds.js';

/**
 * NetworkPolicy on an agent's node: the NetworkPolicy, Namespace and Pod objects its feed watches (the
 * Kubernetes API, or etcd under `<prefix>/policy/`), decoded once per object version, and an incremental
 * planner that turns each snapshot into this node's `podnet-policy` table, which joins the node model the
 * reconcile core syncs (planNodeSync, as every other part of the node).
 */
const START_WAIT_MS = 10_000;

interface Planned {
  readonly world: PolicyWorld;
  readonly model?: PolicyNodeModel;
}

export class AgentPolicy {
  private readonly planner: PolicyPlanner;
  private readonly decoded = new Map<string, { text: string; value: unknown }>();
  private applied: number | undefined;
  /** The world and model of the sync in progress, and of the last one that succeeded (connection cuts). */
  private planned: Planned | undefined;
  private synced: Planned | undefined;

  constructor(
    node: string,
    private readonly feed: ObjectFeed,
    private readonly log: Logger,
  ) {
    this.planner = new PolicyPlanner(node);
  }

  /**
   * Starts the feed and waits (at most START_WAIT_MS) for the first list, so a restarted agent keeps its
   * table; a store that does not answer (or refuses: RBAC) delays enforcement, never the node's network.
   * `onChange` runs after every later batch of changes (the agent schedules a sync).
   */
  async start(onChange: () => void): Promise<void> {
    let ready = false;
    const first = this.feed.start(() => {
      if (ready) onChange();
    });
    const listed = await Promise.race([
      first.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), START_WAIT_MS).unref()),
    ]);
    ready = true;
    if (!listed) {
      this.log('warn', 'NetworkPolicy objects not listed yet; policies are enforced once they are', {});
      void first.then(onChange);
    }
  }

  stop(): void {
    this.feed.stop();
  }

  /**
   * The revision a sync covers: the store's, or the feed's when it is later and comparable (etcd: one revision
   * counter for both watches), so `lab` waits for a policy change to be in effect as for any other.
   */
  revision(store: string): string {
    const r = this.applied;
    return r !== undefined && /^\d+$/.test(store) && r > Number(store) ? String(r) : store;
  }

  /**
   * After a sync succeeded: deletes the conntrack entries of this node's connections that the new policies
   * deny and the previous ones allowed (as `lab policy` does), when the node's enforcement got stricter.
   * Returns how many connections were cut.
   */
  async cut(runner: Runner, file: string): Promise<number> {
    const prev = this.synced;
    const next = this.planned;
    this.synced = next;
    if (!next?.model || !prev || (prev.model && !stricter(prev.model, next.model))) return 0;
    const r = await runner.run(listConntrack(HOST));
    const ops = planPolicyCuts(next.world, HOST, parseConntrack(r.stdout), prev.world, file);
    let n = 0;
    for (const op of ops) {
      if (op.kind !== 'conntrack.delete-flows') continue;
      writeFileSync(op.file, conntrackDeletions(op));
      await runner.run(render(op));
      n += op.connections;
    }
    if (n) this.log('info', 'connections cut by a NetworkPolicy change', { connections: n });
    return n;
  }

  /** The node model with this node's policy table (and its sysctls), or unchanged when no policy exists. */
  apply(model: NodeModel, cluster: Cluster): NodeModel {
    this.applied = this.feed.revision?.();
    const world = this.world(cluster);
    this.planned = { world };
    if (world.policies.length === 0) return model;
    this.planned = { world, model: this.planner.update(world) };
    return {
      ...model,
      // Bridged frames must pass the forward hook (the bridge's own br_netfilter switch); a cut TCP connection
      // must stay cut (see plan/policy/plan.ts).
      ...(model.bridge ? { bridge: { ...model.bridge, nfCallIptables: true } } : {}),
      sysctls: { ...model.sysctls, 'net.netfilter.nf_conntrack_tcp_loose': '0' },
      policy: this.planned.model,
    };
  }

  /** The policy world from the feed's objects (the same objects keep the same decoded values). */
  world(cluster: Cluster): PolicyWorld {
    const objs = this.feed.objects();
    const policies = this.decodeAll(objs.networkpolicy, 'networkpolicy', decodePolicy);
    const namespaces = this.decodeAll(objs.namespace, 'namespace', decodeNamespace);
    const pods = this.decodeAll(objs.pod, 'pod', decodePod);
    return {
      namespaces,
      pods,
      policies,
      nodes: cluster.nodes.map((n) => ({ name: n.name, ips: [n.ip, n.gateway] })),
    };
  }

  private decodeAll<T>(
    objs: ReadonlyMap<string, unknown>,
    kind: PolicyKind,
    decode: (o: unknown, issues: ConfigIssue[]) => T | undefined,
  ): T[] {
    const out: T[] = [];
    const ids = new Set<string>();
    for (const [key, o] of objs) {
      const id = `${kind} ${key}`;
      ids.add(id);
      const text = JSON.stringify(o);
      const seen = this.decoded.get(id);
      if (seen?.text === text) {
        if (seen.value !== undefined) out.push(seen.value as T);
        continue;
      }
      const issues: ConfigIssue[] = [];
      const value = decode(o, issues);
      if (issues.length)
        this.log('warn', 'unreadable object skipped', {
          object: id,
          error: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
        });
      this.decoded.set(id, { text, value: issues.length ? undefined : value });
      if (value !== undefined && !issues.length) out.push(value);
    }
    for (const id of [...this.decoded.keys()])
      if (id.startsWith(`${kind} `) && !ids.has(id)) this.decoded.delete(id);
    return out;
  }
}

const decodePolicy = (o: unknown, issues: ConfigIssue[]): NetworkPolicy | undefined =>
  parseNetworkPolicy(o as Record<string, unknown>, '', issues);

const decodeNamespace = (o: unknown, issues: ConfigIssue[]): NamespaceSpec | undefined =>
  parseNamespace(o as Record<string, unknown>, '', issues);

interface PodObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers?: { ports?: { name?: string; containerPort?: number; protocol?: string }[] }[];
  };
  status?: { podIP?: string; phase?: string };
}

/**
 * A `v1 Pod` as policies see it: scheduled, with an address of its own (host-network pods are the node's
 * traffic, always allowed), not finished. Undefined (no issue) for a pod that does not count yet or any more.
 */
export function decodePod(o: unknown, issues: ConfigIssue[]): PolicyPod | undefined {
  const p = o as PodObject;
  const name = p.metadata?.name;
  if (!name) {
    issues.push({ path: 'metadata.name', message: 'missing' });
    return undefined;
  }
  const ip = p.status?.podIP ? Ip.tryParse(p.status.podIP) : undefined;
  const phase = p.status?.phase;
  if (!ip || !p.spec?.nodeName || p.spec.hostNetwork || phase === 'Succeeded' || phase === 'Failed')
    return undefined;
  const ports: ContainerPort[] = [];
  for (const c of p.spec.containers ?? [])
    for (const x of c.ports ?? [])
      if (typeof x.containerPort === 'number')
        ports.push({
          ...(x.name ? { name: x.name } : {}),
          containerPort: x.containerPort,
          protocol: (x.protocol ?? 'TCP') as Protocol,
        });
  return {
    name,
    namespace: p.metadata?.namespace ?? 'default',
    node: p.spec.nodeName,
    ip,
    labels: p.metadata?.labels ?? {},
    ports,
  };
}

import type { KubeClient } from './store/kube-client.js';
import type { Kv } from './store/kv.js';

/**
 * Where an agent's NetworkPolicy inputs come from: NetworkPolicy, Namespace and Pod objects (Kubernetes JSON)
 * by `namespace/name` (a Namespace by name), listed once then watched. The Kubernetes API (three list+watch
 * loops, as kube-proxy and every policy agent run them), or etcd under `<prefix>/policy/` (the agent lab, where
 * the lab writes them; see policyKeys).
 */
export type PolicyKind = 'networkpolicy' | 'namespace' | 'pod';
export const POLICY_KINDS: readonly PolicyKind[] = ['networkpolicy', 'namespace', 'pod'];

export interface ObjectFeed {
  /** Lists every kind (retrying until the store answers), then watches; `onChange` after each batch. */
  start(onChange: () => void): Promise<void>;
  objects(): Record<PolicyKind, ReadonlyMap<string, unknown>>;
  /** The store revision the objects are at, when it is a number shared with the agent's store (etcd). */
  revision?(): number;
  stop(): void;
}

const RETRY_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The etcd keys of the policy inputs. */
export const policyKeys = (prefix = '/podnet') => ({
  root: `${prefix}/policy/`,
  networkpolicy: (ns: string, name: string) => `${prefix}/policy/networkpolicy/${ns}/${name}`,
  namespace: (name: string) => `${prefix}/policy/namespace/${name}`,
  pod: (ns: string, name: string) => `${prefix}/policy/pod/${ns}/${name}`,
});

abstract class MapFeed implements ObjectFeed {
  protected readonly maps: Record<PolicyKind, Map<string, unknown>> = {
    networkpolicy: new Map(),
    namespace: new Map(),
    pod: new Map(),
  };
  protected stopped = false;
  abstract start(onChange: () => void): Promise<void>;
  abstract stop(): void;
  objects(): Record<PolicyKind, ReadonlyMap<string, unknown>> {
    return this.maps;
  }
}

/** etcd (or the in-memory KV): one range and one watch over `<prefix>/policy/`. */
export class KvPolicyFeed extends MapFeed {
  private watch: { stop(): void } | undefined;
  private readonly root: string;
  private rev = 0;

  revision(): number {
    return this.rev;
  }

  constructor(
    private readonly kv: Kv,
    prefix: string,
  ) {
    super();
    this.root = policyKeys(prefix).root;
  }

  async start(onChange: () => void): Promise<void> {
    for (;;) {
      try {
        const r = await this.kv.range(this.root);
        for (const m of Object.values(this.maps)) m.clear();
        for (const kv of r.kvs) this.set(kv.key, kv.value);
        this.rev = r.revision;
        break;
      } catch {
        if (this.stopped) return;
        await sleep(RETRY_MS);
      }
    }
    const follow = (from: number) => {
      if (this.stopped) return;
      this.watch = this.kv.watch(this.root, from, {
        onEvents: (events, rev) => {
          for (const e of events) this.set(e.kv.key, e.type === 'put' ? e.kv.value : undefined);
          this.rev = rev;
          if (events.length) onChange();
        },
        // Compacted: list again (changes in between are in the new list).
        onCompacted: () =>
          void this.start(onChange).then(() => {
            onChange();
          }),
        onError: () => setTimeout(() => follow(this.rev), RETRY_MS),
      });
    };
    follow(this.rev);
  }

  private set(key: string, value: string | undefined): void {
    const [kind, ...rest] = key.slice(this.root.length).split('/');
    const map = this.maps[kind as PolicyKind];
    if (!map) return;
    const id = rest.join('/');
    if (value === undefined) map.delete(id);
    else
      try {
        map.set(id, JSON.parse(value));
      } catch {
        map.delete(id);
      }
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }
}

const KUBE_PATHS: Record<PolicyKind, string> = {
  networkpolicy: '/apis/networking.k8s.io/v1/networkpolicies',
  namespace: '/api/v1/namespaces',
  pod: '/api/v1/pods',
};

/** A list's items carry no apiVersion and kind (the List's own do): each is given its kind's, as a watch event has. */
const KUBE_TYPES: Record<PolicyKind, { apiVersion: string; kind: string }> = {
  networkpolicy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  namespace: { apiVersion: 'v1', kind: 'Namespace' },
  pod: { apiVersion: 'v1', kind: 'Pod' },
};

interface KubeList {
  metadata?: { resourceVersion?: string };
  items?: { metadata?: { name?: string; namespace?: string } }[];
}

/** The Kubernetes API: per kind a list, then a watch from its resourceVersion (410 Gone: list again). */
export class KubePolicyFeed extends MapFeed {
  private readonly watches = new Map<PolicyKind, { stop(): void }>();

  constructor(private readonly api: KubeClient) {
    super();
  }

  async start(onChange: () => void): Promise<void> {
    await Promise.all(POLICY_KINDS.map((k) => this.list(k, onChange)));
  }

  private async list(kind: PolicyKind, onChange: () => void): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      try {
        const l = await this.api.get<KubeList>(KUBE_PATHS[kind]);
        const m = this.maps[kind];
        m.clear();
        for (const o of l.items ?? []) m.set(idOf(o), { ...KUBE_TYPES[kind], ...(o as object) });
        this.follow(kind, l.metadata?.resourceVersion ?? '0', onChange);
        return;
      } catch {
        await sleep(RETRY_MS);
      }
    }
  }

  private follow(kind: PolicyKind, from: string, onChange: () => void): void {
    if (this.stopped) return;
    let rv = from;
    const m = this.maps[kind];
    let ended = false;
    // 410 Gone or a failure: list again after a pause (the list holds everything meanwhile).
    const relist = () => {
      if (ended || this.stopped) return;
      ended = true;
      h.stop();
      setTimeout(() => void this.list(kind, onChange).then(onChange), RETRY_MS);
    };
    const h = this.api.watch(
      KUBE_PATHS[kind],
      rv,
      (e) => {
        const o = e.object as { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };
        if (e.type === 'ERROR') return relist();
        if (o.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
        if (e.type === 'ADDED' || e.type === 'MODIFIED') m.set(idOf(o), o);
        else if (e.type === 'DELETED') m.delete(idOf(o));
        else return; // BOOKMARK: only a newer resume point
        onChange();
      },
      (err) => {
        if (ended || this.stopped) return;
        if (err) return relist();
        ended = true;
        this.follow(kind, rv, onChange); // the server's timeout: resume from the last resourceVersion
      },
    );
    this.watches.set(kind, h);
  }

  stop(): void {
    this.stopped = true;
    for (const h of this.watches.values()) h.stop();
  }
}

const idOf = (o: { metadata?: { name?: string; namespace?: string } }) =>
  o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? '');

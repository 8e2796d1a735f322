import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { decodeRevision } from '../../agent/store/kube-codec.js';
import { AGENT_CLUSTER_ROLE, agentClusterRoleBinding } from '../../agent/store/kube-rbac.js';
import { ConfigError, StateError } from '../../errors.js';
import type { ProcessRunner } from '../../exec/process-runner.js';
import type { Command } from '../../exec/runner.js';
import { allocationsOf, type Cluster } from '../../model/resolve.js';
import { selects } from '../../model/service-endpoints.js';
import { listNamedNetns } from '../../observe/procs.js';
import { labDown } from '../down.js';
import { LabNames } from '../names.js';
import { requireRoot, requireTools } from '../preflight.js';
import { journalingRunner } from '../runners.js';
import { LabState } from '../state.js';
import { buildBusyboxLayer, labPaths } from '../up.js';
import {
  AGENT_SA,
  API_PORT,
  AUDIT_POLICY,
  agentTokenRequest,
  apiserverCommand,
  controllerManagerCommand,
  type KubeRecord,
  k8sBinDir,
  kubeconfigText,
  kubectl,
  kubePaths,
  saKeyCommands,
  tokenFile,
} from './kube-control-plane.js';
import {
  givenSliceObject,
  list,
  netConfObject,
  nodeObject,
  podObject,
  podStatus,
  serviceObject,
} from './kube-objects.js';
import { createPods } from './pods.js';
import {
  agentDirs,
  agentHealth,
  type ClusterRecord,
  CP_NODE,
  etcdCommand,
  labAgentCommand,
  livePid,
} from './record.js';
import {
  buildLan,
  type ClusterUpOptions,
  clusterModeProblems,
  controlPlaneIp,
  networkConfigOf,
  startDaemon,
  waitFor,
  waitForAgents,
} from './up.js';

/**
 * `lab up --agents --datastore kubernetes`: the LAN, etcd, then a real kube-apiserver and
 * kube-controller-manager in the control-plane namespace. The lab then plays each kubelet: registers the Nodes
 * (the controller manager gives them pod CIDRs), starts one agent per node on the API with the agents' token,
 * creates the Pod objects, runs the CNI plugin for each and reports the pod's address and readiness in its
 * status, so the real endpointslice controller makes the Services' slices.
 */
export async function labUpKube(o: ClusterUpOptions): Promise<Cluster> {
  requireRoot('podnet lab up --agents --datastore kubernetes');
  await requireTools(['ip', 'nsenter', 'unshare', 'busybox', 'etcd', 'openssl', 'env']);
  const bin = k8sBinDir();
  if (!bin)
    throw new StateError(
      'no kube-apiserver/kube-controller-manager/kubectl built: run scripts/k8s/build-control-plane.sh (bootstrap does)',
    );
  const problems = clusterModeProblems(o.spec);
  if (problems.length)
    throw new ConfigError(
      problems.map((message) => ({ path: 'spec', message })),
      'cluster spec (lab up --agents --datastore kubernetes)',
    );
  const names = new LabNames(o.lab);
  const state = new LabState(o.lab);
  if (state.exists || listNamedNetns().some((n) => names.owns(n)))
    throw new StateError(`lab '${o.lab}' already exists; run 'podnet lab down --name ${o.lab}' first`);
  const spec = o.spec;
  const cpIP = controlPlaneIp(spec).toString();
  const rec: ClusterRecord = {
    cpIP,
    underlayPrefix: spec.underlay.subnet.prefix,
    prefix: '/podnet',
    leaseTTLSeconds: o.leaseTTLSeconds ?? 10,
    resyncSeconds: o.resyncSeconds ?? 30,
    proxy: spec.proxy ?? 'nftables',
    nodes: Object.fromEntries(spec.nodes.map((n) => [n.name, n.ip.toString()])),
  };
  const token = () => randomBytes(16).toString('hex');
  const k: KubeRecord = {
    bin,
    server: `https://${cpIP}:${API_PORT}`,
    adminToken: token(),
  };
  state.create();
  state.writeJson('lab.json', {
    name: o.lab,
    status: 'creating',
    createdAt: new Date().toISOString(),
    specText: o.specText,
    source: o.source,
    overrides: o.overrides ?? {},
    datastore: 'kubernetes',
  });
  state.writeJson('cluster.json', rec);
  state.writeJson('kube.json', k);
  const runner = journalingRunner(state, o.verbose ?? false);
  const kc = async (args: string[], stdin?: string) => {
    const r = await runner.run(kubectl(state, names, k, args, stdin));
    if (r.exitCode !== 0) throw new StateError(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  try {
    await buildLan(runner, names, spec, [
      ...spec.nodes.map((n) => ({ name: n.name, ip: n.ip })),
      { name: CP_NODE, ip: controlPlaneIp(spec) },
    ]);
    const p = kubePaths(state);
    for (const d of [state.path('etcd'), p.dir, p.certs]) mkdirSync(d, { recursive: true });
    writeFileSync(p.tokens, tokenFile(k), { mode: 0o600 });
    writeFileSync(p.auditPolicy, JSON.stringify(AUDIT_POLICY));
    writeFileSync(p.admin, kubeconfigText(k.server, 'lab-admin', k.adminToken), { mode: 0o600 });
    for (const c of saKeyCommands(state)) await mustRun(runner, c);
    await startDaemon(runner, etcdCommand(state, names, rec));
    await startDaemon(runner, apiserverCommand(state, names, spec, k, cpIP));
    await waitFor('kube-apiserver /readyz', 60000, async () =>
      (await kc(['get', '--raw', '/readyz'])).includes('ok'),
    );
    // kube-system appears shortly after the API is ready (the server's own namespace controller makes it).
    await waitFor('namespace kube-system', 20000, async () => {
      await kc(['get', 'namespace', 'kube-system']);
      return true;
    });
    await kc(
      ['create', '-f', '-'],
      JSON.stringify(
        list([
          netConfObject(networkConfigOf(spec)),
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENT_SA.namespace } },
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...AGENT_SA } },
          AGENT_CLUSTER_ROLE,
          agentClusterRoleBinding({ kind: 'ServiceAccount', ...AGENT_SA }),
          ...spec.nodes.map((n) => nodeObject(n.name, n.ip.toString())),
        ]),
      ),
    );
    // The agents' credentials: a token of that ServiceAccount, as a DaemonSet's pod would hold.
    const tr = agentTokenRequest();
    const issued = JSON.parse(await kc(['create', '--raw', tr.path, '-f', '-'], tr.body)) as {
      status?: { token?: string };
    };
    if (!issued.status?.token)
      throw new StateError(`TokenRequest for ${AGENT_SA.name}: no token in the answer`);
    writeFileSync(p.agent, kubeconfigText(k.server, AGENT_SA.name, issued.status.token), { mode: 0o600 });
    await startDaemon(runner, controllerManagerCommand(state, names, spec, k, cpIP));
    for (const n of spec.nodes) await startDaemon(runner, kubeAgentCommand(state, names, rec, n.name));
    const subnets = await waitForAgents(
      state,
      spec.nodes.map((n) => n.name),
      0,
      60000,
    );
    const paths = labPaths(state);
    if (spec.pods.some((x) => x.containers.some((c) => c.rootfs === 'busybox')))
      buildBusyboxLayer(paths.lowerDir);
    // The kubelet's order: the Pod exists, then its sandbox gets an address, then the status says so.
    if (spec.pods.length) await kc(['create', '-f', '-'], JSON.stringify(list(spec.pods.map(podObject))));
    const cluster = await createPods(runner, state, names, spec, subnets);
    await reportPodStatus(
      kc,
      cluster,
      cluster.pods.map((x) => x.name),
    );
    state.writeJson('allocations.json', allocationsOf(cluster));
    if (cluster.services.length)
      await kc(['create', '-f', '-'], JSON.stringify(list(cluster.services.map(serviceObject))));
    // Services without a selector: their EndpointSlices come from the lab file (docs/spec.md, "EndpointSlice").
    const given = cluster.services.filter((s) => s.endpoints);
    if (given.length)
      await kc(
        ['create', '-f', '-'],
        JSON.stringify(list(given.map((s) => givenSliceObject(s, cluster.pods)))),
      );
    await waitForSlices(kc, state, cluster);
    state.writeJson('lab.json', { ...state.record, status: 'up' });
    return cluster;
  } catch (err) {
    await labDown(o.lab).catch(() => {});
    throw err;
  } finally {
    runner.close();
  }
}

async function mustRun(runner: ProcessRunner, c: Command): Promise<void> {
  const r = await runner.run(c);
  if (r.exitCode !== 0) throw new StateError(`${c.argv.join(' ')}: ${r.stderr.trim()}`);
}

type Kc = (args: string[], stdin?: string) => Promise<string>;

/** The kubelet's status report for each pod: its address, Running and Ready (one PUT of /status each). */
export async function reportPodStatus(kc: Kc, cluster: Cluster, pods: readonly string[]): Promise<void> {
  const now = new Date();
  const got = JSON.parse(await kc(['get', 'pods', '-n', 'default', '-o', 'json'])) as {
    items: { metadata: { name: string } }[];
  };
  for (const name of pods) {
    const pod = cluster.pods.find((x) => x.name === name);
    const obj = got.items.find((x) => x.metadata.name === name);
    if (!pod || !obj) continue;
    const host = cluster.nodes.find((n) => n.name === pod.node)!.ip.toString();
    await kc(
      ['replace', '--raw', `/api/v1/namespaces/default/pods/${name}/status`, '-f', '-'],
      JSON.stringify({ ...obj, status: podStatus(pod.ip.toString(), host, true, now) }),
    );
  }
}

/**
 * Waits until the endpointslice controller's slices list every selected pod of every Service, then until
 * every agent has synced a snapshot that holds those slices (its slices resourceVersion at least theirs).
 */
export async function waitForSlices(kc: Kc, state: LabState, cluster: Cluster, ms = 30000): Promise<void> {
  let newest = 0;
  await waitFor("the endpointslice controller to list every Service's pods", ms, async () => {
    const got = JSON.parse(await kc(['get', 'endpointslices.discovery.k8s.io', '-A', '-o', 'json'])) as {
      items: {
        metadata: { namespace: string; labels?: Record<string, string>; resourceVersion: string };
        endpoints?: { conditions?: { ready?: boolean } }[] | null;
      }[];
    };
    for (const s of cluster.services) {
      const want = cluster.pods.filter((x) => selects(s.selector, x.labels)).length;
      const have = got.items
        .filter(
          (x) =>
            x.metadata.namespace === s.namespace &&
            x.metadata.labels?.['kubernetes.io/service-name'] === s.name,
        )
        .flatMap((x) => x.endpoints ?? [])
        .filter((e) => e.conditions?.ready !== false).length;
      if (have !== want) return false;
    }
    newest = Math.max(0, ...got.items.map((x) => Number(x.metadata.resourceVersion)));
    return true;
  });
  const rec = state.readJson<ClusterRecord>('cluster.json')!;
  for (const node of Object.keys(rec.nodes))
    await waitFor(
      `the agent of ${node} to sync the EndpointSlices (see ${agentDirs(state, node).log})`,
      ms,
      async () => {
        const h = agentHealth(state, node);
        const seen = Number(decodeRevision(h?.lastSync?.revision ?? '')?.slices ?? 0);
        return livePid(state, node, 'agent') !== undefined && seen >= newest && h?.lastError === undefined;
      },
    );
}

/** A node's agent on the Kubernetes API, with the agents' kubeconfig (the ServiceAccount's token: the agent role only). */
export function kubeAgentCommand(
  state: LabState,
  names: LabNames,
  rec: ClusterRecord,
  node: string,
): Command {
  return labAgentCommand(
    state,
    names,
    rec,
    node,
    ['--datastore', 'kubernetes', '--kubeconfig', kubePaths(state).agent],
    `${node}: start podnet agent on the Kubernetes API (Node podCIDR, annotations, watches)`,
  );
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../../exec/runner.js';
import type { ClusterSpec } from '../../model/cluster.js';
import { netnsExec } from '../../render/netns.js';
import type { LabNames } from '../names.js';
import type { LabState } from '../state.js';
import { CP_NODE, ETCD_CLIENT_PORT } from './record.js';

/**
 * A lab's Kubernetes control plane (`lab up --agents --datastore kubernetes`): kube-apiserver on the lab's
 * etcd and kube-controller-manager (nodeipam, endpointslice), both built by scripts/k8s/build-control-plane.sh,
 * running in the control-plane namespace. The lab's admin authenticates with a static token (system:masters);
 * the agents with a token of the ServiceAccount `podnet-system/podnet` (TokenRequest), which the deploy
 * manifest's ClusterRoleBinding binds to the agent ClusterRole only, so the agents run with exactly its
 * permissions, as a DaemonSet's pods do. This file builds argv and file contents.
 */

export const K8S_VERSION = '1.20.2';
export const API_PORT = 6443;
export const KCM_PORT = 10257;
/** The agents' ServiceAccount: the one deploy/kubernetes/podnet.yaml creates and binds (a unit test checks). */
export const AGENT_SA = { namespace: 'podnet-system', name: 'podnet' } as const;
export const AGENT_USER = `system:serviceaccount:${AGENT_SA.namespace}:${AGENT_SA.name}`;
/** How long the agents' token is valid: longer than any lab lives. */
export const AGENT_TOKEN_SECONDS = 30 * 86400;

/**
 * v1.20's alpha EndpointSlice fields, on in the lab so the agents see what current servers serve by default:
 * `conditions.serving`/`terminating` (GA in v1.26) and `endpoints[].nodeName` (GA in v1.21).
 */
export const FEATURE_GATES = 'EndpointSliceTerminatingCondition=true,EndpointSliceNodeName=true';

/** Where the built binaries are (PODNET_K8S_CACHE as in the build script), or undefined when not built. */
export function k8sBinDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = join(env.PODNET_K8S_CACHE ?? '/var/cache/podnet-k8s', `v${K8S_VERSION}`);
  return ['kube-apiserver', 'kube-controller-manager', 'kubectl'].every((b) => existsSync(join(dir, b)))
    ? dir
    : undefined;
}

/** The control plane's record (`kube.json` in the state dir). */
export interface KubeRecord {
  readonly bin: string;
  readonly server: string;
  readonly adminToken: string;
}

export const kubePaths = (state: LabState) => ({
  dir: state.path('kube'),
  saKey: state.path('kube', 'sa.key'),
  saPub: state.path('kube', 'sa.pub'),
  tokens: state.path('kube', 'tokens.csv'),
  certs: state.path('kube', 'certs'),
  admin: state.path('kube', 'admin.kubeconfig'),
  auditPolicy: state.path('kube', 'audit-policy.json'),
  auditLog: state.path('logs', 'kube-audit.log'),
  agent: state.path('kube', 'agent.kubeconfig'),
});

/**
 * The audit policy: every request of the agents' user with its answer's code (so a test sees that the
 * ClusterRole allowed each call the agents made), and when the server received each write of a Node or a Pod's
 * status (microseconds), so a bench can time "kubelet reported" to "every node programmed" without kubectl's
 * start-up in between.
 */
export const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'Metadata', users: [AGENT_USER] },
    {
      level: 'Metadata',
      verbs: ['create', 'update', 'patch', 'delete'],
      resources: [{ group: '', resources: ['nodes', 'pods', 'pods/status'] }],
    },
    { level: 'None' },
  ],
} as const;

/** tokens.csv for --token-auth-file (`token,user,uid,"groups"`): the lab's admin only. */
export function tokenFile(k: KubeRecord): string {
  return `${k.adminToken},lab-admin,lab-admin,"system:masters"\n`;
}

/**
 * A kubeconfig with a bearer token. The API server's certificate is the self-signed one it made in its
 * cert dir, so the lab's kubeconfigs skip verification (a lab-only shortcut; docs/kubernetes.md says so).
 */
export function kubeconfigText(server: string, user: string, token: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'lab', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'lab', context: { cluster: 'lab', user } }],
      'current-context': 'lab',
    },
    null,
    2,
  );
}

const inCp = (names: LabNames, argv: string[]): [string, ...string[]] => [
  ...netnsExec(names.nodeNs(CP_NODE)),
  ...argv,
];

/** The service-account signing key pair (kube-apiserver v1.20 requires one even when no pod uses it). */
export function saKeyCommands(state: LabState): Command[] {
  const p = kubePaths(state);
  return [
    {
      argv: ['openssl', 'genrsa', '-out', p.saKey, '2048'],
      note: 'control plane: service-account signing key',
    },
    { argv: ['openssl', 'rsa', '-in', p.saKey, '-pubout', '-out', p.saPub], note: 'and its public half' },
  ];
}

export function apiserverCommand(
  state: LabState,
  names: LabNames,
  spec: ClusterSpec,
  k: KubeRecord,
  cpIP: string,
): Command {
  const p = kubePaths(state);
  return {
    argv: inCp(names, [
      join(k.bin, 'kube-apiserver'),
      `--etcd-servers=http://127.0.0.1:${ETCD_CLIENT_PORT}`,
      `--service-cluster-ip-range=${spec.serviceCIDR}`,
      '--service-node-port-range=30000-32767',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${p.saPub}`,
      `--service-account-signing-key-file=${p.saKey}`,
      '--authorization-mode=RBAC',
      // as kubeadm and k3s do: CNI DaemonSets run privileged
      '--allow-privileged=true',
      // The lab plays the kubelet: pods carry no service-account token.
      '--disable-admission-plugins=ServiceAccount',
      `--secure-port=${API_PORT}`,
      `--bind-address=${cpIP}`,
      `--advertise-address=${cpIP}`,
      '--endpoint-reconciler-type=none',
      '--insecure-port=0',
      `--cert-dir=${p.certs}`,
      `--token-auth-file=${p.tokens}`,
      `--audit-policy-file=${p.auditPolicy}`,
      `--audit-log-path=${p.auditLog}`,
      `--feature-gates=${FEATURE_GATES}`,
    ]),
    daemon: { log: state.path('logs', 'kube-apiserver.log'), tag: `${CP_NODE}/kube-apiserver` },
    note: `control plane: kube-apiserver v${K8S_VERSION} on ${k.server}, stored in the lab's etcd`,
  };
}

export function controllerManagerCommand(
  state: LabState,
  names: LabNames,
  spec: ClusterSpec,
  k: KubeRecord,
  cpIP: string,
): Command {
  const admin = kubePaths(state).admin;
  return {
    argv: inCp(names, [
      join(k.bin, 'kube-controller-manager'),
      `--kubeconfig=${admin}`,
      `--authentication-kubeconfig=${admin}`,
      `--authorization-kubeconfig=${admin}`,
      '--leader-elect=false',
      '--allocate-node-cidrs',
      `--cluster-cidr=${spec.clusterCIDR}`,
      `--node-cidr-mask-size=${spec.nodeCIDRMaskSize}`,
      `--service-cluster-ip-range=${spec.serviceCIDR}`,
      '--controllers=nodeipam,endpointslice',
      // Slices follow pod changes at once (the default batches them for a second).
      '--endpointslice-updates-batch-period=0s',
      `--bind-address=${cpIP}`,
      `--secure-port=${KCM_PORT}`,
      '--use-service-account-credentials=false',
      `--feature-gates=${FEATURE_GATES}`,
    ]),
    daemon: {
      log: state.path('logs', 'kube-controller-manager.log'),
      tag: `${CP_NODE}/kube-controller-manager`,
    },
    note: 'control plane: kube-controller-manager (node pod CIDRs from --cluster-cidr, EndpointSlices)',
  };
}

/** The TokenRequest that gives the agents their ServiceAccount's token (`kubectl create --raw` body). */
export function agentTokenRequest(): { path: string; body: string } {
  return {
    path: `/api/v1/namespaces/${AGENT_SA.namespace}/serviceaccounts/${AGENT_SA.name}/token`,
    body: JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: AGENT_TOKEN_SECONDS },
    }),
  };
}

/** kubectl with the admin kubeconfig, inside the control-plane namespace. */
export function kubectl(
  state: LabState,
  names: LabNames,
  k: KubeRecord,
  args: string[],
  stdin?: string,
): Command {
  return {
    argv: inCp(names, [
      join(k.bin, 'kubectl'),
      `--kubeconfig=${kubePaths(state).admin}`,
      '--request-timeout=5s',
      ...args,
    ]),
    ...(stdin !== undefined ? { stdin } : {}),
  };
}

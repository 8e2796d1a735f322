import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { ifnameProblem } from '../net/ifname.js';
import { Ip } from '../net/ip.js';
import type { BackendType } from './store/store.js';

/**
 * `podnet agent`'s configuration: flags, or a file (`--config FILE`, YAML or JSON with the same names in
 * camelCase) that flags override. Validated up front: every problem listed at once (exit 2), nothing started.
 */
export interface AgentConfig {
  /** This node's name (the Kubernetes node name): the key of its subnet lease. */
  readonly node: string;
  readonly datastore: 'etcd' | 'kubernetes';
  /** `--datastore kubernetes`: the kubeconfig; absent: the in-cluster service account. */
  readonly kubeconfig?: string;
  readonly etcdEndpoints: readonly string[];
  /** @default /podnet */
  readonly etcdPrefix: string;
  /**
   * etcd over TLS (flannel's `-etcd-cafile`, `-etcd-certfile`, `-etcd-keyfile`): the CA that signed etcd's
   * server certificate (absent: the system's CAs), and this client's certificate and key (etcd's
   * `--client-cert-auth`). Any of them needs https:// endpoints.
   */
  readonly etcdCAFile?: string;
  readonly etcdCertFile?: string;
  readonly etcdKeyFile?: string;
  /** The backend this node expects; the agent refuses a network config of another one. Absent: the config's. */
  readonly backend?: BackendType;
  /** @default nftables */
  readonly proxy: 'nftables' | 'iptables' | 'none';
  /** The uplink: its IPv4 address is the node's public IP (host-gw next hop, tunnel endpoint). @default eth0 */
  readonly iface: string;
  /** Overrides the address read from `iface`. */
  readonly publicIP?: string;
  /** `/healthz` and `/metrics`. @default 127.0.0.1:9653 */
  readonly listen: { readonly host: string; readonly port: number };
  /** Full resync (observe the kernel, repair drift) every so many seconds. @default 30 */
  readonly resyncSeconds: number;
  /** TTL of the subnet lease; renewed every quarter of it. @default 60 */
  readonly leaseTTLSeconds: number;
  /** Where the CNI conflist goes. @default /etc/cni/net.d */
  readonly cniConfDir: string;
  /** @default 10-podnet.conflist */
  readonly cniConfName: string;
  /** The plugin's IPAM reservations. @default /var/lib/cni/podnet */
  readonly cniDataDir: string;
  /**
   * The CNI socket the installed client hands requests to (src/agent/cni-server.ts); written into the conflist
   * as `agentSocket`. `none`: do not serve (the plugin runs as its own process). @default /run/podnet/cni.sock
   */
  readonly cniSocket: string | undefined;
  /** Where `podnet cni install` put the plugin: the CNI server loads its netlink addon. @default /opt/cni/bin */
  readonly cniBinDir: string;
  /** The agent's own files: the subnet it held (kept across restarts), the lease file the plugin's STATUS reads. */
  readonly stateDir: string;
}

export const AGENT_DEFAULTS = {
  etcdPrefix: '/podnet',
  proxy: 'nftables',
  iface: 'eth0',
  listen: '127.0.0.1:9653',
  resyncSeconds: 30,
  leaseTTLSeconds: 60,
  cniConfDir: '/etc/cni/net.d',
  cniConfName: '10-podnet.conflist',
  cniDataDir: '/var/lib/cni/podnet',
  cniSocket: '/run/podnet/cni.sock',
  cniBinDir: '/opt/cni/bin',
  stateDir: '/var/lib/podnet/agent',
} as const;

/** Every field a config file may have (and the flags' names, kebab-case). */
export const AGENT_FIELDS = [
  'node',
  'datastore',
  'kubeconfig',
  'etcdEndpoints',
  'etcdPrefix',
  'etcdCAFile',
  'etcdCertFile',
  'etcdKeyFile',
  'backend',
  'proxy',
  'iface',
  'publicIP',
  'listen',
  'resyncSeconds',
  'leaseTTLSeconds',
  'cniConfDir',
  'cniConfName',
  'cniDataDir',
  'cniSocket',
  'cniBinDir',
  'stateDir',
] as const;
type Field = (typeof AGENT_FIELDS)[number];

/** Raw values: strings from flags, anything from a file. */
export type RawAgentConfig = Partial<Record<Field, unknown>>;

/**
 * Merges the file (if any) under the flags and checks every field; ConfigError with all problems. `source`
 * names where a file value came from in messages.
 */
export function parseAgentConfig(
  flags: RawAgentConfig,
  file?: { text: string; source: string },
): AgentConfig {
  const issues: ConfigIssue[] = [];
  let fromFile: RawAgentConfig = {};
  if (file) {
    let doc: unknown;
    try {
      doc = parseYaml(file.text);
    } catch (e) {
      throw new ConfigError(
        [{ path: file.source, message: `not YAML or JSON: ${(e as Error).message}` }],
        'agent config',
      );
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw new ConfigError(
        [{ path: file.source, message: 'must be a mapping of field: value' }],
        'agent config',
      );
    for (const k of Object.keys(doc)) {
      if (!(AGENT_FIELDS as readonly string[]).includes(k))
        issues.push({
          path: `${file.source}: ${k}`,
          message: `unknown field '${k}'`,
          hint: `allowed: ${AGENT_FIELDS.join(', ')}`,
        });
    }
    fromFile = doc as RawAgentConfig;
  }
  const where = (f: Field) => (flags[f] !== undefined ? `--${kebab(f)}` : `${file?.source}: ${f}`);
  const raw = (f: Field): unknown => flags[f] ?? fromFile[f];
  const bad = (f: Field, message: string, hint?: string) =>
    issues.push({ path: where(f), message, ...(hint ? { hint } : {}) });
  const str = (f: Field): string | undefined => {
    const v = raw(f);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') {
      bad(f, `${JSON.stringify(v)} is not a non-empty string`);
      return undefined;
    }
    return v;
  };
  const int = (f: Field, min: number, max: number, dflt: number): number => {
    const v = raw(f);
    if (v === undefined) return dflt;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      bad(f, `'${v}' is not a whole number of seconds from ${min} to ${max}`);
      return dflt;
    }
    return n;
  };
  const oneOf = <T extends string>(f: Field, allowed: readonly T[]): T | undefined => {
    const v = str(f);
    if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
      bad(f, `'${v}' is not one of ${allowed.join(', ')}`);
      return undefined;
    }
    return v as T | undefined;
  };

  const node = str('node');
  if (node === undefined && raw('node') === undefined)
    issues.push({ path: '--node', message: 'is required: the name of this node' });
  else if (node !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(node))
    bad('node', `'${node}' is not a Kubernetes node name (lower-case letters, digits, '-' and '.')`);
  const datastore = oneOf('datastore', ['etcd', 'kubernetes'] as const);
  if (raw('datastore') === undefined)
    issues.push({ path: '--datastore', message: "is required: 'etcd' or 'kubernetes'" });

  const endpointsRaw = raw('etcdEndpoints');
  let endpoints: string[] = [];
  if (endpointsRaw === undefined && datastore === 'kubernetes') {
    // the Kubernetes API is the store: no etcd
  } else if (endpointsRaw === undefined)
    issues.push({ path: '--etcd-endpoints', message: 'is required with --datastore etcd' });
  else if (typeof endpointsRaw === 'string') endpoints = endpointsRaw.split(',').map((s) => s.trim());
  else if (Array.isArray(endpointsRaw) && endpointsRaw.every((e) => typeof e === 'string'))
    endpoints = endpointsRaw;
  else bad('etcdEndpoints', 'must be a list of URLs, or one string of URLs separated by commas');
  for (const e of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(e);
    } catch {}
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/' || !url.port)
      bad(
        'etcdEndpoints',
        `'${e}' is not an etcd client URL like http://10.0.0.1:2379 or https://10.0.0.1:2379`,
      );
  }
  const tls = {
    etcdCAFile: str('etcdCAFile'),
    etcdCertFile: str('etcdCertFile'),
    etcdKeyFile: str('etcdKeyFile'),
  };
  for (const [f, v] of Object.entries(tls) as [Field, string | undefined][]) {
    if (v === undefined) continue;
    if (datastore === 'kubernetes') bad(f, 'goes with --datastore etcd');
    else if (!v.startsWith('/')) bad(f, `'${v}' is not an absolute path`);
  }
  if ((tls.etcdCertFile === undefined) !== (tls.etcdKeyFile === undefined))
    bad(
      tls.etcdCertFile === undefined ? 'etcdKeyFile' : 'etcdCertFile',
      'needs its pair: --etcd-certfile and --etcd-keyfile go together',
    );
  if (Object.values(tls).some((v) => v !== undefined))
    for (const e of endpoints.filter((x) => x.startsWith('http:')))
      bad('etcdEndpoints', `'${e}' is plain http, but etcd TLS files are given`, 'use https:// endpoints');

  const kubeconfig = str('kubeconfig');
  if (kubeconfig !== undefined && datastore !== 'kubernetes')
    bad('kubeconfig', 'goes with --datastore kubernetes');
  else if (kubeconfig !== undefined && !kubeconfig.startsWith('/'))
    bad('kubeconfig', `'${kubeconfig}' is not an absolute path`);
  const prefix = str('etcdPrefix') ?? AGENT_DEFAULTS.etcdPrefix;
  if (!/^\/[A-Za-z0-9_./-]*[A-Za-z0-9_.-]$/.test(prefix) || prefix.includes('//'))
    bad('etcdPrefix', `'${prefix}' is not a key prefix like /podnet (starts with '/', no trailing '/')`);
  const backend = oneOf('backend', ['host-gw', 'vxlan', 'ipip'] as const);
  const proxy = oneOf('proxy', ['nftables', 'iptables', 'none'] as const) ?? AGENT_DEFAULTS.proxy;
  const iface = str('iface') ?? AGENT_DEFAULTS.iface;
  const ifProblem = ifnameProblem(iface);
  if (ifProblem) bad('iface', `'${iface}' ${ifProblem}`);
  const publicIP = str('publicIP');
  if (publicIP !== undefined && !Ip.tryParse(publicIP))
    bad('publicIP', `'${publicIP}' is not an IPv4 address`);
  const listenText = str('listen') ?? AGENT_DEFAULTS.listen;
  const m = /^([0-9.]+|\[[0-9a-f:]+\]|localhost):(\d{1,5})$/.exec(listenText);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    bad('listen', `'${listenText}' is not HOST:PORT like 127.0.0.1:9653 (port 0: any free port)`);
  const resyncSeconds = int('resyncSeconds', 1, 3600, AGENT_DEFAULTS.resyncSeconds);
  const leaseTTLSeconds = int('leaseTTLSeconds', 5, 3600, AGENT_DEFAULTS.leaseTTLSeconds);
  const path = (f: Field, dflt: string) => {
    const v = str(f) ?? dflt;
    if (!v.startsWith('/')) bad(f, `'${v}' is not an absolute path`);
    return v;
  };
  const cniConfDir = path('cniConfDir', AGENT_DEFAULTS.cniConfDir);
  const cniDataDir = path('cniDataDir', AGENT_DEFAULTS.cniDataDir);
  const stateDir = path('stateDir', AGENT_DEFAULTS.stateDir);
  const cniBinDir = path('cniBinDir', AGENT_DEFAULTS.cniBinDir);
  const socketText = str('cniSocket') ?? AGENT_DEFAULTS.cniSocket;
  if (socketText !== 'none' && (!socketText.startsWith('/') || socketText.length > 107))
    bad(
      'cniSocket',
      `'${socketText}' is not an absolute path of at most 107 bytes (a unix socket's limit)`,
      "'none' turns the CNI socket off",
    );
  const cniConfName = str('cniConfName') ?? AGENT_DEFAULTS.cniConfName;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*\.conflist$/.test(cniConfName))
    bad('cniConfName', `'${cniConfName}' is not a file name ending in .conflist`);

  if (issues.length) throw new ConfigError(issues, 'agent configuration');
  return {
    node: node!,
    datastore: datastore!,
    ...(kubeconfig ? { kubeconfig } : {}),
    etcdEndpoints: endpoints,
    etcdPrefix: prefix,
    ...(tls.etcdCAFile ? { etcdCAFile: tls.etcdCAFile } : {}),
    ...(tls.etcdCertFile ? { etcdCertFile: tls.etcdCertFile } : {}),
    ...(tls.etcdKeyFile ? { etcdKeyFile: tls.etcdKeyFile } : {}),
    ...(backend ? { backend } : {}),
    proxy,
    iface,
    ...(publicIP ? { publicIP } : {}),
    listen: { host: m![1]!.replace(/^\[|\]$/g, ''), port },
    resyncSeconds,
    leaseTTLSeconds,
    cniConfDir,
    cniConfName,
    cniDataDir,
    cniSocket: socketText === 'none' ? undefined : socketText,
    cniBinDir,
    stateDir,
  };
}

// flannel's flag names for the TLS files; the rest are the field names in kebab-case.
const FLAGS: Partial<Record<Field, string>> = {
  etcdCAFile: 'etcd-cafile',
  etcdCertFile: 'etcd-certfile',
  etcdKeyFile: 'etcd-keyfile',
};
const kebab = (f: Field) => FLAGS[f] ?? f.replace(/[A-Z]+/g, (c) => `-${c.toLowerCase()}`);

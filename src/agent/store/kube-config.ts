import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from '../../errors.js';

/** How to reach and authenticate to an API server: what a kubeconfig or the in-cluster files say. */
export interface KubeTarget {
  /** @example https://192.168.64.254:6443 */
  readonly server: string;
  readonly ca?: Buffer;
  readonly insecure?: boolean;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Bearer token (a file's is re-read on each connection: projected service-account tokens rotate). */
  readonly token?: () => string;
  /** Where the settings came from, for messages. */
  readonly source: string;
}

/** The service-account files every pod gets (a DaemonSet's agent uses these when no --kubeconfig is given). */
export const IN_CLUSTER = {
  token: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  ca: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
} as const;

/** In-cluster config: `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted service-account token and CA. */
export function inClusterTarget(env: NodeJS.ProcessEnv = process.env): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const issues: ConfigIssue[] = [];
  if (!host)
    issues.push({
      path: 'KUBERNETES_SERVICE_HOST',
      message: 'is not set: not running in a pod',
      hint: 'pass --kubeconfig FILE',
    });
  if (!existsSync(IN_CLUSTER.token))
    issues.push({ path: IN_CLUSTER.token, message: 'does not exist (no service-account token mounted)' });
  if (issues.length) throw new ConfigError(issues, 'in-cluster Kubernetes config');
  return {
    server: `https://${host!.includes(':') ? `[${host}]` : host}:${port}`,
    ...(existsSync(IN_CLUSTER.ca) ? { ca: readFileSync(IN_CLUSTER.ca) } : {}),
    token: () => readFileSync(IN_CLUSTER.token, 'utf8').trim(),
    source: 'in-cluster service account',
  };
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  value?: T;
}

/** Reads a kubeconfig's current context (server, CA, client cert or token). ConfigError lists every problem. */
export function loadKubeconfig(file: string): KubeTarget {
  const src = `kubeconfig ${file}`;
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError([{ path: file, message: `unreadable: ${(e as Error).message}` }], src);
  }
  const issues: ConfigIssue[] = [];
  const pick = (list: string, name: string | undefined, field: string): Record<string, unknown> => {
    const arr = (doc?.[list] ?? []) as Named<unknown>[];
    const hit = Array.isArray(arr) ? arr.find((x) => x?.name === name) : undefined;
    const v = hit?.[field];
    if (!v || typeof v !== 'object') {
      issues.push({ path: `${list}`, message: `has no entry named '${name}' with a '${field}'` });
      return {};
    }
    return v as Record<string, unknown>;
  };
  const current = doc?.['current-context'];
  if (typeof current !== 'string')
    throw new ConfigError([{ path: 'current-context', message: 'is not set' }], src);
  const ctx = pick('contexts', current, 'context');
  const cluster = pick('clusters', ctx.cluster as string, 'cluster');
  const user = pick('users', ctx.user as string, 'user');
  const base = dirname(file);
  const bytes = (o: Record<string, unknown>, dataKey: string, fileKey: string): Buffer | undefined => {
    if (typeof o[dataKey] === 'string') return Buffer.from(o[dataKey] as string, 'base64');
    if (typeof o[fileKey] === 'string') {
      const p = isAbsolute(o[fileKey] as string) ? (o[fileKey] as string) : join(base, o[fileKey] as string);
      if (!existsSync(p)) {
        issues.push({ path: fileKey, message: `'${p}' does not exist` });
        return undefined;
      }
      return readFileSync(p);
    }
    return undefined;
  };
  const server = cluster.server;
  if (typeof server !== 'string' || !/^https?:\/\//.test(server))
    issues.push({ path: 'clusters[].cluster.server', message: `'${String(server)}' is not an https:// URL` });
  const ca = bytes(cluster, 'certificate-authority-data', 'certificate-authority');
  const cert = bytes(user, 'client-certificate-data', 'client-certificate');
  const key = bytes(user, 'client-key-data', 'client-key');
  let token: (() => string) | undefined;
  if (typeof user.token === 'string') {
    const t = user.token;
    token = () => t;
  } else if (typeof user.tokenFile === 'string') {
    const p = user.tokenFile as string;
    token = () => readFileSync(p, 'utf8').trim();
  }
  for (const k of ['exec', 'auth-provider', 'username'])
    if (user[k] !== undefined)
      issues.push({
        path: `users[].user.${k}`,
        message: 'is not supported',
        hint: 'use a token or a client cert',
      });
  if (issues.length) throw new ConfigError(issues, src);
  return {
    server: (server as string).replace(/\/$/, ''),
    ...(ca ? { ca } : {}),
    ...(cluster['insecure-skip-tls-verify'] === true ? { insecure: true } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(token ? { token } : {}),
    source: src,
  };
}

import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { AgentConfig } from './config.js';
import type { EtcdTls } from './store/etcd-kv.js';

/**
 * The etcd TLS files of the configuration, read and checked before anything starts: each file that cannot be
 * read or is not PEM of its kind, and a key that does not belong to the certificate, is one issue of one
 * ConfigError (exit 2). Undefined when no TLS file is configured (plain http, or https with the system's CAs).
 */
export function readEtcdTls(c: AgentConfig): EtcdTls | undefined {
  if (!c.etcdCAFile && !c.etcdCertFile && !c.etcdKeyFile) return undefined;
  const issues: ConfigIssue[] = [];
  const read = <T>(flag: string, file: string | undefined, what: string, parse: (b: Buffer) => T) => {
    if (file === undefined) return undefined;
    let b: Buffer;
    try {
      b = readFileSync(file);
    } catch (e) {
      issues.push({
        path: flag,
        message: `cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? e}`,
      });
      return undefined;
    }
    try {
      return { pem: b, parsed: parse(b) };
    } catch (e) {
      issues.push({ path: flag, message: `'${file}' is not a PEM ${what}: ${(e as Error).message}` });
      return undefined;
    }
  };
  const ca = read('--etcd-cafile', c.etcdCAFile, 'certificate', (b) => new X509Certificate(b));
  const cert = read('--etcd-certfile', c.etcdCertFile, 'certificate', (b) => new X509Certificate(b));
  const key = read('--etcd-keyfile', c.etcdKeyFile, 'private key', (b): KeyObject => createPrivateKey(b));
  if (cert && key && !cert.parsed.checkPrivateKey(key.parsed))
    issues.push({
      path: '--etcd-keyfile',
      message: `'${c.etcdKeyFile}' is not the key of '${c.etcdCertFile}'`,
    });
  if (issues.length) throw new ConfigError(issues, 'agent configuration');
  return {
    ...(ca ? { ca: ca.pem } : {}),
    ...(cert ? { cert: cert.pem } : {}),
    ...(key ? { key: key.pem } : {}),
  };
}

/**
 * Throwaway certificates for etcd over TLS, made with openssl in a temp dir: a CA, etcd's server certificate
 * for 127.0.0.1, a client certificate (etcd's --client-cert-auth), and a second CA that signed none of them
 * (a client that trusts it must be refused). EC P-256, valid one day. `remove()` deletes the dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** The client's certificate and key, signed by `ca`. */
  readonly cert: string;
  readonly key: string;
  /** A CA that signed nothing here. */
  readonly otherCa: string;
  remove(): void;
}

export const noOpenssl: string | false = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'needs openssl (Debian package openssl) to make test certificates';
  }
})();

export function makeTestTls(): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-etcd-tls-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) =>
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.crt`),
      '-subj',
      `/CN=podnet-test-${name}`,
      '-days',
      '1',
    );
  const leaf = (name: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), `${ext}\n`);
    ssl(
      'req',
      ...ec,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      `/CN=podnet-test-${name}`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      p(`${name}.ext`),
    );
  };
  ca('ca');
  ca('other-ca');
  // clientAuth too: etcd 3.4's JSON gateway dials etcd's own gRPC port with the server's certificate.
  leaf('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth');
  leaf('client', 'extendedKeyUsage=clientAuth');
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    cert: p('client.crt'),
    key: p('client.key'),
    otherCa: p('other-ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

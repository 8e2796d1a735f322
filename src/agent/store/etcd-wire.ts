import type { KeyValue } from './kv.js';

/**
 * etcd's v3 JSON gateway on the wire (what EtcdKv sends and parses): keys and values base64-encoded, 64-bit
 * numbers as decimal strings, fields equal to zero left out of answers (proto3 JSON); plus the TLS files and
 * the error etcd answers with.
 */

/** PEM files for etcd over TLS: the CA of etcd's certificate, and this client's certificate and key. */
export interface EtcdTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** etcd answered with an error (gRPC status `grpcCode`): not a connection failure. */
export class EtcdError extends Error {
  constructor(
    message: string,
    readonly grpcCode: number,
  ) {
    super(message);
  }
}

export const NOT_FOUND = 5;
export const JSON_HEADERS = { 'content-type': 'application/json' };

export interface RawKv {
  key: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}
export interface Answer {
  header?: { revision?: string };
  kvs?: RawKv[];
  succeeded?: boolean;
  ID?: string;
  TTL?: string;
  result?: { TTL?: string };
}
export interface WatchMessage {
  result?: {
    header?: { revision?: string };
    events?: { type?: 'PUT' | 'DELETE'; kv: RawKv }[];
    canceled?: boolean;
    created?: boolean;
    compact_revision?: string;
  };
  error?: { message?: string };
}

export const b64 = (s: string | Buffer) =>
  (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');
export const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');
export const num = (s: string | number | undefined) => (s === undefined ? 0 : Number(s));

export const kvOf = (k: RawKv): KeyValue => ({
  key: unb64(k.key),
  value: unb64(k.value),
  modRevision: num(k.mod_revision),
  lease: k.lease ?? '0',
});

/** The range end covering every key that starts with `prefix` (clientv3's GetPrefixRangeEnd). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i] = b[i]! + 1;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

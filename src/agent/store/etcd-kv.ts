import http from 'node:http';
import https from 'node:https';
import {
  type Answer,
  b64,
  EtcdError,
  type EtcdTls,
  JSON_HEADERS,
  kvOf,
  NOT_FOUND,
  num,
  prefixEnd,
  type WatchMessage,
} from './etcd-wire.js';
import type { Kv, KvEvent, KvWatchSink } from './kv.js';

export { EtcdError, type EtcdTls, prefixEnd } from './etcd-wire.js';

/**
 * The Kv interface against a real etcd (v3.4+) through its JSON gateway (`/v3/kv/range`, `/v3/kv/txn`,
 * `/v3/lease/*`, `/v3/watch`), with node:http and no client library: keys and values travel base64-encoded,
 * 64-bit numbers as decimal strings, and fields equal to zero are left out of answers (proto3 JSON).
 *
 * https:// endpoints speak TLS, with `tls` (flannel's etcd CA, certificate and key files) when given.
 *
 * Several endpoints: each call goes to the one that answered last and moves to the next on a connection
 * failure, as etcd's own clients do. Every unary call has a deadline, so an unreachable etcd is reported in
 * `timeoutMs`, not after the kernel's TCP timeouts.
 */
export class EtcdKv implements Kv {
  private current = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly tlsAgent: https.Agent;
  private readonly watches = new Set<http.ClientRequest>();
  private readonly endpoints: URL[];
  private readonly timeoutMs: number;
  private readonly tls: EtcdTls;

  constructor(endpoints: readonly string[], opts: { timeoutMs?: number; tls?: EtcdTls } = {}) {
    if (endpoints.length === 0) throw new Error('EtcdKv needs at least one endpoint');
    this.endpoints = endpoints.map((e) => new URL(e));
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.tls = opts.tls ?? {};
    this.tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, ...this.tls });
  }

  /** A request on `url`: https with the TLS settings, or http; `pooled` false: a connection of its own. */
  private request(url: URL, options: http.RequestOptions, pooled: boolean): http.ClientRequest {
    if (url.protocol !== 'https:')
      return http.request(url, { ...options, agent: pooled ? this.agent : false });
    return https.request(url, {
      ...options,
      ...(pooled ? { agent: this.tlsAgent } : { agent: false, ...this.tls }),
    });
  }

  async range(prefix: string) {
    const r = await this.call('/v3/kv/range', { key: b64(prefix), range_end: b64(prefixEnd(prefix)) });
    return { revision: num(r.header?.revision), kvs: (r.kvs ?? []).map(kvOf) };
  }

  async get(key: string) {
    const r = await this.call('/v3/kv/range', { key: b64(key) });
    const kv = r.kvs?.[0];
    return kv ? kvOf(kv) : undefined;
  }

  async put(key: string, value: string) {
    const r = await this.call('/v3/kv/put', { key: b64(key), value: b64(value) });
    return num(r.header?.revision);
  }

  async delete(key: string) {
    await this.call('/v3/kv/deleterange', { key: b64(key) });
  }

  async createIfAbsent(key: string, value: string, lease: string) {
    // create_revision == 0 holds exactly when the key does not exist (etcd's clientv3 idiom for "create").
    const r = await this.call('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'CREATE', create_revision: '0', result: 'EQUAL' }],
      success: [{ request_put: { key: b64(key), value: b64(value), lease } }],
    });
    // The transaction's revision is the put's: the key's new mod revision, with no read after it.
    return r.succeeded === true ? num(r.header?.revision) : undefined;
  }

  async replaceIf(key: string, modRevision: number, value: string, lease: string) {
    const r = await this.call('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'MOD', mod_revision: String(modRevision), result: 'EQUAL' }],
      success: [{ request_put: { key: b64(key), value: b64(value), lease } }],
    });
    return r.succeeded === true ? num(r.header?.revision) : undefined;
  }

  async grant(ttlSeconds: number) {
    const r = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
    return { id: String(r.ID), ttl: num(r.TTL) };
  }

  async keepAlive(id: string) {
    // A streaming RPC through the gateway: one request message, one `{"result": …}` answer; TTL absent = gone.
    const r = await this.call('/v3/lease/keepalive', { ID: id });
    return num(r.result?.TTL);
  }

  async revoke(id: string) {
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (e) {
      if (!(e instanceof EtcdError && e.grpcCode === NOT_FOUND)) throw e;
    }
  }

  watch(prefix: string, fromRevision: number, sink: KvWatchSink) {
    let stopped = false;
    let ended = false;
    const end = (f: () => void) => {
      if (stopped || ended) return;
      ended = true;
      req.destroy();
      this.watches.delete(req);
      f();
    };
    const url = new URL('/v3/watch', this.endpoints[this.current]);
    const req = this.request(url, { method: 'POST', headers: JSON_HEADERS }, false);
    this.watches.add(req);
    const body = JSON.stringify({
      create_request: {
        key: b64(prefix),
        range_end: b64(prefixEnd(prefix)),
        start_revision: String(fromRevision + 1),
      },
    });
    // No answer (not even `created`) within the deadline: the endpoint is unreachable.
    const deadline = setTimeout(
      () => end(() => sink.onError(new Error(`etcd ${url.origin}: watch not created`))),
      this.timeoutMs,
    );
    req.on('response', (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) handle(line);
        }
      });
      res.on('end', () => end(() => sink.onError(new Error(`etcd ${url.origin}: watch stream ended`))));
      res.on('error', (e) => end(() => sink.onError(e)));
    });
    const handle = (line: string) => {
      clearTimeout(deadline);
      let msg: WatchMessage;
      try {
        msg = JSON.parse(line) as WatchMessage;
      } catch (e) {
        return end(() => sink.onError(e as Error));
      }
      if (msg.error) return end(() => sink.onError(new Error(`etcd ${url.origin}: ${msg.error?.message}`)));
      const r = msg.result ?? {};
      if (r.compact_revision && num(r.compact_revision) > 0)
        return end(() => sink.onCompacted(num(r.compact_revision)));
      if (r.canceled) return end(() => sink.onError(new Error(`etcd ${url.origin}: watch canceled`)));
      if (r.created && !stopped) sink.onReady?.();
      const events = (r.events ?? []).map(
        (e): KvEvent => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: kvOf(e.kv) }),
      );
      if (events.length && !stopped) sink.onEvents(events, num(r.header?.revision));
    };
    req.on('error', (e) => {
      clearTimeout(deadline);
      this.failover();
      end(() => sink.onError(e));
    });
    req.end(body);
    return {
      stop: () => {
        stopped = true;
        clearTimeout(deadline);
        this.watches.delete(req);
        req.destroy();
      },
    };
  }

  /** Compacts history up to the current revision (tests; operators run `etcdctl compact`). */
  async compact(): Promise<void> {
    const { revision } = await this.range('\0');
    await this.call('/v3/kv/compaction', { revision: String(revision), physical: true });
  }

  async close() {
    for (const w of this.watches) w.destroy();
    this.watches.clear();
    this.agent.destroy();
    this.tlsAgent.destroy();
  }

  /** One unary call, on the current endpoint, then each other one in turn while the connection fails. */
  private async call(path: string, body: unknown): Promise<Answer> {
    let last: Error | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      const url = new URL(path, this.endpoints[this.current]);
      try {
        return await this.post(url, JSON.stringify(body));
      } catch (e) {
        if (e instanceof EtcdError) throw e; // etcd answered: another member would answer the same
        last = e as Error;
        this.failover();
      }
    }
    throw last ?? new Error('etcd: no endpoint');
  }

  private failover() {
    this.current = (this.current + 1) % this.endpoints.length;
  }

  private post(url: URL, body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        url,
        {
          method: 'POST',
          headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) },
          timeout: this.timeoutMs,
        },
        true,
      );
      req.on('timeout', () =>
        req.destroy(new Error(`etcd ${url.origin}: no answer within ${this.timeoutMs} ms`)),
      );
      req.on('error', (e) =>
        reject(new Error(`etcd ${url.origin}${url.pathname}: ${e.message}`, { cause: e })),
      );
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('error', reject);
        res.on('end', () => {
          let json: Answer & { error?: string | { message?: string }; code?: number };
          try {
            // A streaming RPC's answer is one JSON object per line; the first is the one asked for.
            json = JSON.parse(text.split('\n')[0] || '{}');
          } catch {
            return reject(new Error(`etcd ${url.origin}${url.pathname}: not JSON: ${text.slice(0, 200)}`));
          }
          const err = json.error ?? (json.result as { error?: unknown } | undefined)?.error;
          if (err || (res.statusCode ?? 500) >= 400) {
            const message =
              typeof err === 'string'
                ? err
                : ((err as { message?: string })?.message ?? `HTTP ${res.statusCode}`);
            return reject(new EtcdError(`etcd ${url.origin}${url.pathname}: ${message}`, json.code ?? 0));
          }
          resolve(json);
        });
      });
      req.end(body);
    });
  }
}

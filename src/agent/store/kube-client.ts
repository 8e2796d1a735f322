import http from 'node:http';
import https from 'node:https';
import type { KubeTarget } from './kube-config.js';
import { StoreError } from './store.js';

/**
 * The few API calls podnet makes, over node:https: get/list, create, replace, merge and strategic-merge
 * patches, and streaming watches (one JSON event per line). Errors are StoreErrors: 'unavailable' when the
 * server cannot be reached or answers 5xx, 'not-found' (404), 'conflict' (409), 'invalid' otherwise;
 * `status` carries the HTTP status.
 */
export class KubeError extends StoreError {
  constructor(
    reason: ConstructorParameters<typeof StoreError>[0],
    message: string,
    readonly status?: number,
  ) {
    super(reason, message);
  }
}

export interface WatchEventRaw {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: { metadata?: { resourceVersion?: string }; code?: number; message?: string } & Record<
    string,
    unknown
  >;
}

export interface WatchHandle {
  stop(): void;
}

const CALL_TIMEOUT_MS = 5000;

export class KubeClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(private readonly t: KubeTarget) {
    this.url = new URL(t.server);
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ...(t.ca ? { ca: t.ca } : {}),
            ...(t.cert ? { cert: t.cert } : {}),
            ...(t.key ? { key: t.key } : {}),
            rejectUnauthorized: !t.insecure,
          })
        : new http.Agent({ keepAlive: true });
  }

  get server(): string {
    return this.t.server;
  }

  private open(method: string, path: string, headers: Record<string, string>): http.ClientRequest {
    const token = this.t.token?.();
    const mod = this.url.protocol === 'https:' ? https : http;
    return mod.request({
      host: this.url.hostname.replace(/^\[|\]$/g, ''),
      port: this.url.port || (this.url.protocol === 'https:' ? 443 : 80),
      method,
      path,
      agent: this.agent,
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
    });
  }

  /** One call; resolves with the parsed JSON body of a 2xx answer. */
  request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = this.open(method, path, data ? { 'content-type': contentType } : {});
      req.setTimeout(CALL_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${CALL_TIMEOUT_MS} ms`)));
      req.on('error', (e) =>
        reject(new KubeError('unavailable', `${method} ${this.t.server}${path}: ${e.message}`)),
      );
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubeError('unavailable', `${method} ${path}: ${e.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(JSON.parse(text) as T);
            } catch {
              reject(new KubeError('invalid', `${method} ${path}: answer is not JSON`, status));
            }
            return;
          }
          let msg = text.slice(0, 300);
          try {
            msg = (JSON.parse(text) as { message?: string }).message ?? msg;
          } catch {}
          const reason =
            status === 404
              ? 'not-found'
              : status === 409
                ? 'conflict'
                : status >= 500 || status === 429
                  ? 'unavailable'
                  : 'invalid';
          reject(new KubeError(reason, `${method} ${path}: ${status} ${msg}`, status));
        });
      });
      req.end(data);
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** A JSON merge patch (RFC 7386): maps merge, `null` deletes. */
  mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** A strategic merge patch: lists with a merge key (Node conditions by `type`) merge item by item. */
  strategicPatch<T>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, 'application/strategic-merge-patch+json');
  }

  /**
   * Streams `path?watch=1&resourceVersion=rv`: every event in order to `onEvent`; `onEnd` once, with an error
   * when the connection failed or the server refused, without one when the server closed the stream (its
   * timeout: resume from the last resourceVersion). Bookmarks are asked for, so a resume point stays fresh.
   */
  watch(
    path: string,
    resourceVersion: string,
    onEvent: (e: WatchEventRaw) => void,
    onEnd: (err?: KubeError) => void,
    timeoutSeconds = 300,
  ): WatchHandle {
    const sep = path.includes('?') ? '&' : '?';
    const full = `${path}${sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    let ended = false;
    const end = (err?: KubeError) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    const req = this.open('GET', full, {});
    req.on('error', (e) => end(new KubeError('unavailable', `watch ${path}: ${e.message}`)));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        const s = res.statusCode ?? 0;
        end(
          new KubeError(
            s === 410 ? 'compacted' : s >= 500 ? 'unavailable' : 'invalid',
            `watch ${path}: ${s}`,
            s,
          ),
        );
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line || ended) continue;
          try {
            onEvent(JSON.parse(line) as WatchEventRaw);
          } catch (e) {
            end(new KubeError('invalid', `watch ${path}: ${(e as Error).message}`));
            req.destroy();
            return;
          }
        }
      });
      res.on('error', (e) => end(new KubeError('unavailable', `watch ${path}: ${e.message}`)));
      res.on('end', () => end());
      res.on('close', () =>
        end(res.complete ? undefined : new KubeError('unavailable', `watch ${path}: closed`)),
      );
    });
    req.end();
    return {
      stop: () => {
        ended = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

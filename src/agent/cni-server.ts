import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { pluginDeps } from '../cni/deps.js';
import { CNI_ERR, CniError } from '../cni/errors.js';
import { errorVersion, runCni } from '../cni/main.js';
import { ADDON_FILE, pluginHome } from '../cni/paths.js';
import { loadNativeFile, type NativeKernel } from '../exec/netlink/native.js';
import type { Runner } from '../exec/runner.js';
import { type CniRequest, DECLINE, decodeRequest, encodeAccept, encodeAnswer } from './cni-wire.js';
import type { Logger } from './log.js';

/**
 * The agent's side of CNI: the installed client (native/cni-client.c) hands each invocation here over a unix
 * socket, and this runs it with the plugin's own code (runCni, the same verbs, IPAM store, lock and netlink
 * applier), warm: nothing to start, load or compile per pod. Only requests from this process's network
 * namespace are served (the node's: the kernel work and the IPAM lock are per namespace); others are declined
 * and the client runs the Node.js plugin itself.
 */
export interface CniServerOptions {
  /** The socket path (the conflist's `agentSocket`). */
  readonly socket: string;
  /** The native netlink addon; without it every kernel change is an `ip` process (slower than the plugin). */
  readonly native?: NativeKernel;
  /** Runs the ops netlink does not speak (the plugin's fallback runner). */
  readonly runner: Runner;
  readonly log?: Logger;
}

export interface CniServer {
  /** Requests answered so far. */
  readonly served: () => number;
  /** Stops accepting; resolves when the requests in flight have been answered. */
  close(): Promise<void>;
}

/** Most a request may be: the configuration plus the environment (a runtime's prevResult is small). */
const MAX_REQUEST = 64 << 20;

/** `dev:ino` of a namespace file, as the client reports its own (stat of /proc/self/ns/net). */
export const netnsId = (path = '/proc/self/ns/net'): string => {
  const s = statSync(path);
  return `${s.dev}:${s.ino}`;
};

/** The addon `podnet cni install` put beside the Node.js plugin (`<bin-dir>/podnet.d/netlink.node`). */
export function loadInstalledAddon(binDir: string): NativeKernel {
  return loadNativeFile(join(pluginHome(binDir), ADDON_FILE));
}

/**
 * What the client prints if this agent dies after accepting: for ADD, try again (the node may hold part of an
 * attachment, exactly as after a killed plugin; the runtime's DEL or a GC removes it, and running ADD again
 * at once could hand the same attachment a second address). Every other verb is safe to repeat: '' makes the
 * client run it with the Node.js plugin.
 */
export function onDeathAnswer(req: CniRequest, socket: string): string {
  if (req.env.CNI_COMMAND !== 'ADD') return '';
  const e = new CniError(
    CNI_ERR.TRY_AGAIN,
    `the podnet agent (socket '${socket}') stopped while it handled this ADD; what it had done is removed by DEL, as after a killed plugin; try again`,
  );
  return `${JSON.stringify(e.toJSON(errorVersion(req.stdin)))}\n`;
}

/** Runs one request with the plugin's code; returns what the plugin would print and its exit status. */
export async function answer(
  req: CniRequest,
  native: NativeKernel | undefined,
  runner: Runner,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  let stderr = '';
  const deps = pluginDeps({
    env: req.env,
    native: () => native,
    write: (text) => {
      stderr += text;
    },
    now: () => performance.now() - t0,
    runner,
  });
  try {
    const { stdout, exitCode } = await runCni(req.env, req.stdin, deps);
    deps.trace?.(`${req.env.CNI_COMMAND} answered by the agent`);
    return { exitCode, stdout, stderr };
  } finally {
    deps.close();
  }
}

/** Listens on `o.socket` (replacing a stale socket file) and serves until closed. */
export async function serveCni(o: CniServerOptions): Promise<CniServer> {
  const ours = netnsId();
  let served = 0;
  mkdirSync(dirname(o.socket), { recursive: true, mode: 0o700 });
  try {
    unlinkSync(o.socket); // a socket left by an agent that died; a live one's clients fall back meanwhile
  } catch {}
  // One attachment's requests run one after another, in arrival order. A client killed mid-ADD (a runtime's
  // timeout) leaves the agent finishing that ADD; the runtime's DEL that follows must not run beside it, or it
  // could release the address before the veth exists and leave both behind. (The plugin has no such race: a
  // killed plugin stops.) Verbs without an attachment (STATUS, GC, VERSION) run at once.
  const turns = new Map<string, Promise<unknown>>();
  const inTurn = <T>(req: CniRequest, run: () => Promise<T>): Promise<T> => {
    const key = req.env.CNI_CONTAINERID ? `${req.env.CNI_CONTAINERID}/${req.env.CNI_IFNAME ?? ''}` : '';
    if (!key) return run();
    const before = turns.get(key) ?? Promise.resolve();
    const mine = before.then(run, run);
    const settled = mine.catch(() => {});
    turns.set(key, settled);
    void settled.then(() => {
      if (turns.get(key) === settled) turns.delete(key);
    });
    return mine;
  };
  const handle = (conn: Socket) => {
    const chunks: Buffer[] = [];
    let size = 0;
    conn.on('error', () => conn.destroy());
    conn.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST) conn.destroy();
      else chunks.push(c);
    });
    conn.on('end', () => {
      const req = decodeRequest(Buffer.concat(chunks));
      if (!req || req.netns !== ours) {
        if (req) o.log?.('warn', 'CNI request from another network namespace declined', { netns: req.netns });
        conn.end(DECLINE);
        return;
      }
      conn.write(encodeAccept(onDeathAnswer(req, o.socket)));
      void inTurn(req, () => answer(req, o.native, o.runner)).then(
        (a) => {
          served++;
          conn.end(encodeAnswer(a));
        },
        (e: Error) => {
          // runCni answers every failure itself; this is a bug, and the client then acts as on a death.
          o.log?.('error', 'CNI request failed', { error: e.message });
          conn.destroy();
        },
      );
    });
  };
  const server = createServer({ allowHalfOpen: true }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socket, () => resolve());
  });
  chmodSync(o.socket, 0o600);
  server.on('error', (e) => o.log?.('error', 'CNI socket failed', { error: e.message }));
  return {
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve()); // libuv removes the socket file
      }),
  };
}

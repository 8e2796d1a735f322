import { join } from 'node:path';
import { NetlinkApplier } from '../apply/netlink.js';
import { NftSession } from '../apply/nft-session.js';
import { loadOrCompileNative } from '../exec/netlink/build.js';
import type { NativeKernel } from '../exec/netlink/native.js';
import { NetfilterSender } from '../exec/netlink/nft-batch.js';
import { ProcessRunner } from '../exec/process-runner.js';
import type { Runner } from '../exec/runner.js';
import { Agent, AgentFatal } from './agent.js';
import { type CniServer, loadInstalledAddon, serveCni } from './cni-server.js';
import type { AgentConfig } from './config.js';
import { readEtcdTls } from './etcd-tls.js';
import { writeAtomic } from './files.js';
import { serveAgentHttp } from './http.js';
import { openKubeStore } from './kube-main.js';
import { jsonLogger, type Logger } from './log.js';
import { AgentMetrics } from './metrics.js';
import { policyOption } from './policy-open.js';
import { Reconciler } from './reconciler.js';
import { EtcdKv } from './store/etcd-kv.js';
import { KvStore } from './store/kv-store.js';

/**
 * Runs the agent until SIGTERM/SIGINT (then exits 0, leaving routes, rules and the lease in place, so a
 * restart changes nothing). Returns the exit code: 1 when it cannot start (no free subnet, wrong backend).
 */
export async function runAgent(c: AgentConfig): Promise<number> {
  // Read first: a TLS file that is missing or wrong is a ConfigError (exit 2), before anything starts.
  const tls = c.datastore === 'etcd' ? readEtcdTls(c) : undefined;
  const log = jsonLogger();
  const metrics = new AgentMetrics();
  const kube = c.datastore === 'kubernetes' ? openKubeStore(c, log) : undefined;
  const store =
    kube?.store ??
    new KvStore(new EtcdKv(c.etcdEndpoints, tls ? { tls } : {}), {
      kind: 'etcd',
      prefix: c.etcdPrefix,
      onInvalid: (key, message) => log('warn', 'unreadable key skipped', { key, error: message }),
    });
  const runner = new ProcessRunner();
  // The long-lived session: one endpoint change is one small transaction, no nft process per sync. Opened once
  // the lease is held: the lease is what the other nodes wait for, and Python's start-up would compete with it
  // for the CPU; the start-up sync's nft script waits for the session.
  let leased = () => {};
  const nft =
    c.proxy === 'nftables'
      ? new Promise<void>((r) => {
          leased = r;
        })
          .then(() => NftSession.open(`/proc/${process.pid}/ns/net`))
          .catch((e: Error) => {
            log('warn', 'nft session unavailable; using nft -f -', { error: e.message });
            return undefined;
          })
      : undefined;
  // The netlink addon (compiled once per version of native/netlink.c, kept under /var/cache/podnet), loaded once
  // the lease is held: nftables transactions as netlink batches (PODNET_NFT_NETLINK=0: off, the session above)
  // and routes, neighbours and FDB entries as rtnetlink messages from this process (PODNET_AGENT_NETLINK=0: off,
  // the `ip`/`bridge` batch processes). Without it, both fall back to those processes.
  const nftOverNetlink = c.proxy === 'nftables' && process.env.PODNET_NFT_NETLINK !== '0';
  const rtOverNetlink = process.env.PODNET_AGENT_NETLINK !== '0';
  const native =
    nftOverNetlink || rtOverNetlink
      ? new Promise<void>((r) => {
          const previous = leased;
          leased = () => {
            previous();
            r();
          };
        })
          .then(() => loadOrCompileNative())
          .catch((e: Error) => {
            log('warn', 'netlink addon unavailable; using ip, bridge and the nft session', {
              error: e.message,
            });
            return undefined;
          })
      : undefined;
  const netfilter = nftOverNetlink
    ? native?.then((n) => {
        if (!n) return undefined;
        log('info', 'nftables transactions go over netlink from this process', {});
        return new NetfilterSender(n);
      })
    : undefined;
  const netlink = rtOverNetlink
    ? native?.then((n) => {
        if (!n) return undefined;
        log('info', 'routes, neighbours and FDB entries go over netlink from this process', {});
        return new NetlinkApplier(n, runner);
      })
    : undefined;
  const closeNft = () => {
    reconciler.close();
    void nft?.then((s) => s?.close());
    void netfilter?.then((s) => s?.close());
  };
  const statusFile = join(c.stateDir, 'status.json');
  const reconciler = new Reconciler(runner, nft, true, netfilter, netlink);
  const agent = new Agent(c, {
    store,
    runner,
    reconciler,
    metrics,
    log,
    ...(kube ? { onSynced: kube.onSynced } : {}),
    onLeased: () => leased(),
    ...policyOption(c, log, tls),
    onHealth: (h) => {
      try {
        writeAtomic(statusFile, `${JSON.stringify(h)}\n`);
      } catch {}
    },
  });
  const cni = c.cniSocket ? await startCniServer(c.cniSocket, c.cniBinDir, log, runner) : undefined;
  const { server, port } = await serveAgentHttp(c.listen, () => agent.health(), metrics);
  log('info', 'serving /healthz and /metrics', { address: `${c.listen.host}:${port}` });
  const done = new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log('info', 'stopping; the data path stays as it is', { signal });
      void agent.stop().then(async () => {
        await cni?.close();
        server.close();
        closeNft();
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  try {
    await agent.start();
  } catch (e) {
    if (agent.stopping) return done; // a signal during start-up
    if (!(e instanceof AgentFatal)) throw e;
    log('error', 'cannot start', { error: e.message });
    process.stderr.write(`podnet agent: ${e.message}\n`);
    await agent.stop();
    await cni?.close();
    server.close();
    closeNft();
    return 1;
  }
  return done;
}

/**
 * The warm side of the CNI plugin (cni-server.ts), served from the start: it needs no lease (the plugin does
 * not either). Without the installed addon the client's own fallback is faster, so the agent then does not serve.
 */
export async function startCniServer(
  socket: string,
  binDir: string,
  log: Logger,
  runner: Runner = new ProcessRunner(),
): Promise<CniServer | undefined> {
  let native: NativeKernel;
  try {
    native = loadInstalledAddon(binDir);
  } catch (e) {
    log('warn', 'not serving CNI requests: no netlink addon installed', { error: (e as Error).message });
    return undefined;
  }
  try {
    const s = await serveCni({ socket, native, runner, log });
    log('info', 'serving CNI requests', { socket });
    return s;
  } catch (e) {
    log('warn', 'not serving CNI requests', { socket, error: (e as Error).message });
    return undefined;
  }
}

import { NftSession } from '../src/apply/nft-session.js';
import { loadOrCompileNative } from '../src/exec/netlink/build.js';
import { NetfilterSender } from '../src/exec/netlink/nft-batch.js';
import { exec, ProcessRunner } from '../src/exec/process-runner.js';
import type { NftCmd } from '../src/plan/nft.js';
import { renderIptables } from '../src/plan/services/iptables.js';
import { planNftDiff, planNftFull } from '../src/plan/services/nftables.js';
import { renderNftTx } from '../src/render/nft.js';
import { encodeNftBatch, netfilterRequest } from '../src/render/nft-netlink/batch.js';
import { renderNftDiff, renderNftFull } from '../src/render/nft-proxy.js';
import { agentPath } from './services-agent.js';
import { labPath } from './services-lab.js';
import {
  dropNode,
  type Latency,
  latency,
  latencyReady,
  latencyRound,
  makeNode,
  medianRound,
  model,
  PREFIX,
  seedCommands,
  sh,
  shCpu,
} from './services-node.js';
import { printServices, type Row } from './services-print.js';
import { fmtMs, median } from './stats.js';

/**
 * `npm run bench -- services [--sizes 100,1000,10000] [--modes nft,agent,ipt,seed] [--skip-iptables-at N] [--iptables-limit S]`: the service proxy at 100, 1,000
 * and 10,000 services × 5 endpoints, all inside namespaces the bench creates (`pb<pid>-…`, removed at the end):
 *   - full sync: podnet's flat nftables layout (one `nft -f`), kube-proxy's iptables layout (one
 *     `iptables-restore --noflush`), and the seed's way (one `iptables` process per chain/rule: run in full at
 *     100, sampled and extrapolated above, and said so);
 *   - one endpoint change (one service's endpoint replaced) planned as the diff of two whole models, a reference
 *     and no front door: nftables partial sync (`nft -f`, the session, a netlink batch), iptables partial sync
 *     (kube-proxy's: dispatch chain + that service's chains);
 *   - the front doors, judged against the target: one endpoint change as the agent makes it, from the store
 *     event to the kernel (services-agent.ts; the model built change by change, against the model rebuilt whole
 *     in the same run), and as the lab makes it, from the spec before and after to the kernel (services-lab.ts);
 *   - new-connection latency to a ClusterIP (median of 300 in-process connects; nftables: 7 rounds interleaved across sizes at the end), both modes, with the measured
 *     service last in iptables' dispatch chain (its worst case; nftables has no order).
 */

export async function benchServices(args: string[]): Promise<void> {
  const sizesArg = args[args.indexOf('--sizes') + 1];
  const sizes = args.includes('--sizes') && sizesArg ? sizesArg.split(',').map(Number) : [100, 1000, 10000];
  const skipIptAt = args.includes('--skip-iptables-at')
    ? Number(args[args.indexOf('--skip-iptables-at') + 1])
    : Infinity;
  const iptLimitS = args.includes('--iptables-limit')
    ? Number(args[args.indexOf('--iptables-limit') + 1])
    : 900;
  const modes = new Set(
    (args.includes('--modes') ? (args[args.indexOf('--modes') + 1] ?? '') : 'nft,agent,ipt,seed').split(','),
  );
  const runner = new ProcessRunner();
  let sender: NetfilterSender | undefined;
  try {
    sender = new NetfilterSender(await loadOrCompileNative());
  } catch (e) {
    process.stderr.write(
      `[services bench] no netlink path (${(e as Error).message}): its columns stay empty\n`,
    );
  }
  const pids: number[] = [];
  const made: string[] = [];
  const rows: Row[] = [];
  // nftables nodes kept to the end, where their latency rounds run interleaved (latencies below).
  const kept: { row: Row; node: string }[] = [];
  const log = (s: string) => process.stderr.write(`[services bench] ${s}\n`);
  try {
    for (const n of sizes) {
      const row: Row = {
        n,
        nftFull: [],
        nftChange: [],
        nftSessionChange: [],
        nftPlan: [],
        nftFullCpu: [],
        nlFull: [],
        nlEncode: [],
        nlFullCpu: [],
        nlChange: [],
        nlChangeSend: [],
        iptChange: [],
        seed: { commands: 0 },
      };
      rows.push(row);
      // nftables: full sync (fresh, then over the existing table), one-change syncs, latency.
      if (modes.has('nft')) {
        const node = await makeNode(`n${n}`, runner, pids);
        made.push(node);
        const full = renderNftFull(model(n, 'nftables'));
        for (let i = 0; i < 3; i++) {
          const t = await shCpu(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], full);
          row.nftFull.push(t.ms);
          row.nftFullCpu.push(t.cpu);
        }
        log(
          `nftables ${n}: full sync ${row.nftFull.map(fmtMs).join(' / ')} (cpu ${row.nftFullCpu.map(fmtMs).join(' / ')})`,
        );
        let prev = model(n, 'nftables');
        for (let i = 1; i <= 15; i++) {
          const next = model(n, 'nftables', i);
          row.nftChange.push(
            await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], renderNftDiff(prev, next)!),
          );
          prev = next;
        }
        const session = await NftSession.open(`/run/netns/${node}`);
        try {
          for (let i = 16; i <= 45; i++) {
            const next = model(n, 'nftables', i);
            const p0 = performance.now();
            const diff = renderNftDiff(prev, next)!;
            row.nftPlan.push(performance.now() - p0);
            const t0 = performance.now();
            await session.apply(diff);
            row.nftSessionChange.push(performance.now() - t0);
            prev = next;
          }
          const t0 = performance.now();
          await session.apply(renderNftFull(prev));
          row.nftSessionFull = performance.now() - t0;
        } finally {
          session.close();
        }
        // The netlink path, last: the latency below then runs through the table it loaded.
        if (sender) {
          const req = (tx: readonly NftCmd[]) =>
            netfilterRequest(`/run/netns/${node}`, tx, (i) => renderNftTx(tx.slice(i, i + 1)));
          const p0 = performance.now();
          const fullTx = planNftFull(prev);
          row.planFull = performance.now() - p0;
          for (let i = 0; i < 5; i++) {
            const e0 = performance.now();
            encodeNftBatch(fullTx);
            row.nlEncode.push(performance.now() - e0);
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            if (!sender.send(req(fullTx))) throw new Error('the full sync is not fully encoded');
            row.nlFull.push(performance.now() - t0);
            const c1 = process.cpuUsage(c0);
            row.nlFullCpu.push((c1.user + c1.system) / 1000);
          }
          for (let i = 46; i <= 75; i++) {
            const next = model(n, 'nftables', i);
            const t0 = performance.now();
            const tx = planNftDiff(prev, next)!;
            const s0 = performance.now();
            if (!sender.send(req(tx))) throw new Error('a partial sync is not fully encoded');
            row.nlChangeSend.push(performance.now() - s0);
            row.nlChange.push(performance.now() - t0);
            prev = next;
          }
          log(
            `netlink ${n}: full sync ${row.nlFull.map(fmtMs).join(' / ')} (cpu ${row.nlFullCpu.map(fmtMs).join(' / ')}; encoding ${fmtMs(median(row.nlEncode))} of it; planning ${fmtMs(row.planFull)} before), one change incl. planning ${median(row.nlChange).toFixed(2)} ms, of which netlink ${median(row.nlChangeSend).toFixed(2)} ms`,
          );
        }
        kept.push({ row, node });
        if (modes.has('agent')) row.agent = await agentPath(row.n, node, log, sender);
        // The lab's front door, on the same namespace (named as lab PREFIX's node n<N>): it loads its own table.
        if (sender) row.lab = await labPath(row.n, PREFIX, `n${n}`, log);
        log(
          `nftables ${n}: one change median ${fmtMs(median(row.nftChange))} (nft -f), ${median(row.nftSessionChange).toFixed(2)} ms (session), planning it ${median(row.nftPlan).toFixed(2)} ms; full via session ${fmtMs(row.nftSessionFull ?? 0)}`,
        );
      }

      // iptables (kube-proxy layout): one full restore, partial restores, latency; then the seed's way.
      const restore = renderIptables(model(n, 'iptables'));
      const seed = seedCommands(restore, '');
      row.seed.commands = seed.length;
      if (modes.has('ipt') && n <= skipIptAt) {
        const inode = await makeNode(`i${n}`, runner, pids);
        made.push(inode);
        // Bounded: kube-proxy's layout through iptables-restore is superlinear (here it did not finish 10,000
        // services in 40 min); past the limit the size is reported as "> limit" and its iptables rows skipped.
        const r0 = performance.now();
        const ir = await exec(
          [
            'timeout',
            String(iptLimitS),
            '/usr/bin/time',
            '-f',
            'podnet-cpu %U %S',
            'ip',
            'netns',
            'exec',
            inode,
            'iptables-restore',
            '--noflush',
          ],
          restore,
        );
        if (ir.exitCode !== 0) {
          row.iptTimedOut = true;
          log(`iptables ${n}: full restore did not finish in ${iptLimitS} s (exit ${ir.exitCode})`);
          await dropNode(inode);
          made.pop();
        } else {
          row.iptFull = performance.now() - r0;
          const m = /podnet-cpu ([\d.]+) ([\d.]+)/.exec(ir.stderr);
          row.iptFullCpu = m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN;
          log(`iptables ${n}: full restore ${fmtMs(row.iptFull)}`);
          let iprev = model(n, 'iptables');
          for (let i = 1; i <= 5; i++) {
            const next = model(n, 'iptables', i);
            row.iptChange.push(
              await sh(
                ['ip', 'netns', 'exec', inode, 'iptables-restore', '--noflush'],
                renderIptables(next, iprev),
              ),
            );
            iprev = next;
          }
          row.iptLatency = await latency(inode);
          log(
            `iptables ${n}: one change median ${fmtMs(median(row.iptChange))}, latency ${row.iptLatency.median} µs`,
          );
          // The seed's way at full size: K more single-rule processes on top of the loaded table.
          const k = n >= 10000 ? 20 : 50;
          const extra = seedCommands(restore, inode)
            .filter((c) => c.includes('-A') && c.includes('DNAT'))
            .slice(0, k)
            .map((c) => c.map((w) => (w.startsWith('PODNET-SEP-') ? 'PODNET-SAMPLE' : w)));
          await sh(['ip', 'netns', 'exec', inode, 'iptables', '-t', 'nat', '-N', 'PODNET-SAMPLE']);
          const t0 = performance.now();
          for (const c of extra) await sh(c);
          row.seed.sampleFull = (performance.now() - t0) / extra.length;
          await dropNode(inode);
          made.pop();
        }
      }
      // The seed's way from an empty table: all of it at 100, a sample of the first commands above.
      if (!modes.has('seed')) continue;
      const snode = await makeNode(`s${n}`, runner, pids);
      made.push(snode);
      const cmds = seedCommands(restore, snode);
      const take = n <= 100 ? cmds.length : 200;
      const t0 = performance.now();
      for (const c of cmds.slice(0, take)) await sh(c);
      const ms = performance.now() - t0;
      if (take === cmds.length) row.seed.measured = ms;
      row.seed.sampleEmpty = ms / take;
      log(`seed's way ${n}: ${cmds.length} processes, ${fmtMs(row.seed.sampleEmpty)} each from empty`);
      await dropNode(snode);
      made.pop();
    }
    await latencies(kept, sender, log);
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const node of made) await dropNode(node);
  }
  sender?.close();
  printServices(rows, iptLimitS);
}

/**
 * New-connection latency through each size's table, measured last and interleaved: 7 rounds, each size once per
 * round, so that a burst of other work on the shared machine lands on every size alike (one size measured right
 * after another's syncs varied by half between runs). Each table is loaded again first, whole, as the netlink path
 * (or `nft -f`) left it: the front doors measured after it load their own.
 */
async function latencies(
  kept: readonly { row: Row; node: string }[],
  sender: NetfilterSender | undefined,
  log: (s: string) => void,
): Promise<void> {
  for (const { row, node } of kept) {
    const table = model(row.n, 'nftables');
    if (sender) {
      const tx = planNftFull(table);
      const req = netfilterRequest(`/run/netns/${node}`, tx, (i) => renderNftTx(tx.slice(i, i + 1)));
      if (!sender.send(req)) throw new Error('the full sync is not fully encoded');
    } else await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], renderNftFull(table));
    await latencyReady(node);
  }
  const rounds = kept.map((): Latency[] => []);
  for (let r = 0; r < 7; r++)
    for (const [i, { node }] of kept.entries()) rounds[i]!.push(await latencyRound(node));
  for (const [i, { row }] of kept.entries()) {
    row.nftLatency = medianRound(rounds[i]!);
    log(
      `nftables ${row.n}: latency ${rounds[i]!.map((x) => x.median).join(' / ')} µs (median ${row.nftLatency.median})`,
    );
  }
}

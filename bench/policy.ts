import { loadOrCompileNative } from '../src/exec/netlink/build.js';
import { NetfilterSender } from '../src/exec/netlink/nft-batch.js';
import { emptyNodeState } from '../src/plan/node/model.js';
import { planNodeSync } from '../src/plan/node/sync.js';
import { named } from '../src/plan/ops.js';
import type { PolicyWorld } from '../src/plan/policy/evaluate.js';
import { buildPolicyModel } from '../src/plan/policy/model.js';
import { PolicyPlanner } from '../src/plan/policy/planner.js';
import { render } from '../src/render/index.js';
import { renderPolicyFull, renderPolicyRemove } from '../src/render/policy-nft.js';
import { measureChanges } from './policy-change.js';
import { dropNode, latency, makeNode, sh, viaNetlink } from './policy-node.js';
import { type PolicyFigures, printPolicy } from './policy-print.js';
import { changedWorld, nodeOf, world } from './policy-world.js';

/**
 * `npm run bench -- policy [--policies 1000] [--pods 1000] [--local 1000] [--rounds 15]`: NetworkPolicy enforcement on one node
 * namespace the bench creates (`pq<pid>-…`, removed at the end). The pods are addresses on the node (the rule set
 * is what is measured), plus one real client and one real server pod for the connection latency:
 *   - full sync: a fresh planner builds the model (pure), planNodeSync plans it from an empty node, the op is
 *     rendered and applied as one `nft -f` (its text rendered first, timed with it), and as one netlink batch
 *     (render/nft-netlink/, encoding included), in turn;
 *   - one policy change (a port of one policy), and one pod relabel, as a node agent's watch delivers them (the
 *     other objects unchanged): the incremental planner updates the model, planNodeSync diffs it against the
 *     model applied last, only the element changes are applied, in turn with an `nft -f` process (the lab
 *     without the netlink addon), through a libnftables session, and as a netlink batch from this process (the
 *     agent, and the lab with the addon);
 *   - new-connection latency client -> server (median of 300 connects per round, 5 rounds each side, interleaved),
 *     with the table of 0 policies (conntrack on, as on every lab node) and of the 1,000 policies, interleaved; and
 *     with no table at all (no conntrack in the namespace) for reference.
 */

function flag(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

export async function benchPolicy(args: string[]): Promise<void> {
  const nPol = flag(args, 'policies', 1000);
  const nPods = flag(args, 'pods', 1000);
  const rounds = flag(args, 'rounds', 15);
  const local = flag(args, 'local', nPods);
  const { node, server } = await makeNode();
  try {
    const sender = new NetfilterSender(await loadOrCompileNative());
    try {
      const baseWorld = world({ policies: nPol, pods: nPods, local });
      const { full, model, script } = await fullSync(node, sender, baseWorld, rounds);
      const latency = await latencies(node, script, nPods, local);
      // One policy change and one relabel, as a watch delivers them: the changed object replaces the old one in
      // the world the planner saw last.
      const [change, relabel] = await measureChanges(
        node,
        sender,
        baseWorld,
        [
          changedWorld(baseWorld, { policies: nPol, pods: nPods, local, change: 8 }),
          changedWorld(baseWorld, { policies: nPol, pods: nPods, local, relabel: 123 }),
        ],
        rounds,
      );
      printPolicy({
        policies: nPol,
        pods: nPods,
        local,
        model,
        script,
        full,
        change: change!,
        relabel: relabel!,
        latency,
      });
    } finally {
      sender.close();
    }
  } finally {
    await dropNode(node, server);
  }
}

/** Full sync: plan (pure: planner, planNodeSync, the op's command) + one nft -f, or one netlink batch. */
async function fullSync(node: string, sender: NetfilterSender, w: PolicyWorld, rounds: number) {
  const full: PolicyFigures['full'] = { plan: [], apply: [], netlink: [], netlinkCpu: [] };
  const target = { netns: named(node) };
  let model = buildPolicyModel(w, 'bench');
  let script = renderPolicyFull(model);
  for (let i = 0; i < Math.min(rounds, 5); i++) {
    const p0 = performance.now();
    model = new PolicyPlanner('bench').update(w);
    const ops = planNodeSync(emptyNodeState('bench'), nodeOf(model), target).filter(
      (o) => o.kind === 'nft.policy',
    );
    const cmd = render(ops[0]!);
    full.plan.push(performance.now() - p0);
    // Both ways in turn, each replacing the whole table; the nft -f side includes rendering its text.
    const t0 = performance.now();
    script = cmd.stdin!;
    full.apply.push(
      (await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], script)) + performance.now() - t0,
    );
    // This process's CPU time (user + sys) for the netlink full sync: the kernel applies the batch in our write.
    const cpu0 = process.cpuUsage();
    full.netlink.push(viaNetlink(sender, cmd));
    const cpu = process.cpuUsage(cpu0);
    full.netlinkCpu.push((cpu.user + cpu.system) / 1000);
  }
  return { full, model, script };
}

/**
 * Latency: rounds alternating between no table at all and the full table (the machine is shared, so the two sides
 * are measured interleaved, and each side's median of rounds is compared). The baseline is the table with 0
 * policies (its base chain, empty maps): conntrack runs in both, as it does on every lab node (the service proxy's
 * NAT needs it). No table at all is shown too: it has no conntrack.
 */
async function latencies(node: string, script: string, pods: number, local: number) {
  const empty = renderPolicyFull(buildPolicyModel(world({ policies: 0, pods, local }), 'bench'));
  const lat: PolicyFigures['latency'] = { none: [], zero: [], all: [] };
  for (let i = 0; i < 5; i++) {
    await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], renderPolicyRemove());
    lat.none.push(await latency(node));
    await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], empty);
    lat.zero.push(await latency(node));
    await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], script);
    lat.all.push(await latency(node));
  }
  return lat;
}

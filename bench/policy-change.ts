import { NftSession } from '../src/apply/nft-session.js';
import type { NetfilterSender } from '../src/exec/netlink/nft-batch.js';
import { planNodeSync } from '../src/plan/node/sync.js';
import { named } from '../src/plan/ops.js';
import type { PolicyWorld } from '../src/plan/policy/evaluate.js';
import { PolicyPlanner } from '../src/plan/policy/planner.js';
import { render } from '../src/render/index.js';
import { renderPolicyFull } from '../src/render/policy-nft.js';
import { sh, viaNetlink } from './policy-node.js';
import { nodeOf } from './policy-world.js';

/**
 * The policy bench's incremental figures: one changed world at a time, as a node agent's watch delivers it, through
 * the incremental planner and planNodeSync (against the model applied last), applied in turn three ways.
 */

export interface ChangeRow {
  readonly plan: number[];
  readonly nft: number[];
  readonly session: number[];
  readonly netlink: number[];
  /** The nft lines of the change's transaction and the pod directions the planner recomputed for it. */
  lines: number;
  chains: number;
}

const newRow = (): ChangeRow => ({ plan: [], nft: [], session: [], netlink: [], lines: 0, chains: 0 });

/** For each changed world: `rounds` times there (timed) and back to `base` (untimed); one row each. */
export async function measureChanges(
  node: string,
  sender: NetfilterSender,
  base: PolicyWorld,
  changed: readonly PolicyWorld[],
  rounds: number,
): Promise<ChangeRow[]> {
  const target = { netns: named(node) };
  const planner = new PolicyPlanner('bench');
  let applied = nodeOf(planner.update(base));
  await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], renderPolicyFull(applied.policy!));
  const rows: ChangeRow[] = [];
  const session = await NftSession.open(`/run/netns/${node}`);
  try {
    for (const g of changed) {
      const row = newRow();
      rows.push(row);
      for (let i = 0; i < rounds; i++) {
        for (const [w, timed] of [
          [g, true],
          [base, false],
        ] as const) {
          const p0 = performance.now();
          const next = nodeOf(planner.update(w));
          const ops = planNodeSync(applied, next, target);
          if (ops.length !== 1) throw new Error(`expected one nft op, got ${ops.length}`);
          const cmd = render(ops[0]!);
          const planned = performance.now() - p0;
          const t0 = performance.now();
          // The three ways in turn: an nft process (the lab without the addon), a libnftables session,
          // a netlink batch from this process (the agent and the lab with the addon).
          const way = i % 3 === 0 ? row.nft : i % 3 === 1 ? row.session : row.netlink;
          if (way === row.nft) await sh(['ip', 'netns', 'exec', node, 'nft', '-f', '-'], cmd.stdin!);
          else if (way === row.session) await session.apply(cmd.stdin!);
          else viaNetlink(sender, cmd);
          if (timed) {
            way.push(performance.now() - t0);
            row.plan.push(planned);
            row.lines = cmd.stdin!.split('\n').length - 1;
            row.chains = planner.recomputed.length;
          }
          applied = next;
        }
      }
    }
  } finally {
    session.close();
  }
  return rows;
}

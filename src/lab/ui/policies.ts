import { policyKey } from '../../model/policy/types.js';
import { worldOf } from '../../plan/policy/world.js';
import type { LoadedLab } from '../load.js';
import { planPolicyCells, probedPorts, verifyPolicies } from '../verify-policies.js';

/** One cell of the page's policy matrix: the evaluator's expectation, and what a probe saw once probed. */
export interface UiPolicyCell {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  readonly expected: boolean;
  readonly observed?: boolean;
  readonly reason: string;
  readonly error?: string;
}

export interface UiPolicyMatrix {
  /** `namespace/name` of every policy; empty: the lab has none (the page hides the matrix). */
  readonly policies: string[];
  readonly ports: string[];
  readonly pods: string[];
  readonly cells: UiPolicyCell[];
  /** Set when probed (`verify --policies`): cells whose observation differs from the evaluator. */
  readonly mismatches?: number;
  readonly ms?: number;
}

/**
 * The policy matrix for `lab ui`: the evaluator's expected verdicts (pure, instant), or, with `probe`, the
 * truth table of `lab verify --policies` (a real connection per cell beside the expectation).
 */
export async function policyMatrix(lab: string, l: LoadedLab, probe: boolean): Promise<UiPolicyMatrix> {
  const world = worldOf(l.cluster);
  const policies = world.policies.map(policyKey).sort();
  if (!policies.length) return { policies, ports: [], pods: [], cells: [] };
  const pods = world.pods.map((p) => `${p.namespace}/${p.name}`);
  const ports = probedPorts(l.cluster).map((p) => `${p.protocol}/${p.port}`);
  if (!probe) {
    const cells = planPolicyCells(l.cluster).map(({ probe: _p, host: _h, ...c }) => c);
    return { policies, ports, pods, cells };
  }
  const t = await verifyPolicies(lab, l.cluster);
  return {
    policies,
    ports: [...t.ports],
    pods: [...t.pods],
    cells: t.cells.map(({ host: _h, ...c }) => c),
    mismatches: t.mismatches,
    ms: t.ms,
  };
}

import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labVerify = defineCommand({
  name: 'lab verify',
  summary: 'probe every path: localhost, gateway, pod to pod, services (exit 3 when any fails)',
  help: `usage: podnet lab verify [--name LAB] [--json] [--policies]

${NAME_HELP}
  --json              print JSON (schema in docs/lab.md)
  --policies          the NetworkPolicy truth table instead: every ordered pod pair x port x protocol,
                      observed beside the evaluator's expectation (docs/network-policy.md)

exit codes: 0 every check passed, 3 some failed (listed)`,
  options: {
    ...NAME_FLAG,
    json: { type: 'boolean', default: false },
    policies: { type: 'boolean', default: false },
  },
  async run({ values }) {
    const lab = labName(values.name);
    const { loadLab } = await import('../../lab/load.js');
    if (values.policies) {
      const { formatTruthTable, verifyPolicies } = await import('../../lab/verify-policies.js');
      const t = await verifyPolicies(lab, loadLab(lab).cluster);
      console.log(values.json ? JSON.stringify(t, null, 2) : formatTruthTable(t));
      return t.mismatches === 0 ? 0 : 3;
    }
    const { formatReport, verifyLab } = await import('../../lab/verify.js');
    const l = loadLab(lab);
    const r = await verifyLab(lab, l.cluster, l.pausePids);
    console.log(values.json ? JSON.stringify(r, null, 2) : formatReport(l.cluster, r));
    return r.failed === 0 ? 0 : 3;
  },
});

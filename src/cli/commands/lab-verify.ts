import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labVerify = defineCommand({
  name: 'lab verify',
  summary: 'probe every path: localhost, gateway, pod to pod, services (exit 3 when any fails)',
  help: `usage: podnet lab verify [--name LAB] [--json] [--policies]

${NAME_HELP}
  --json              print JSON, kind VerifyReport (schema in docs/lab.md); with --policies, kind
                      PolicyTruthTable
  --policies          the NetworkPolicy truth table instead: every ordered pod pair x port x protocol,
                      observed beside the evaluator's expectation (docs/network-policy.md)

exit codes: 0 every check passed, 1 no such lab, 3 some failed (listed)`,
  options: {
    ...NAME_FLAG,
    json: { type: 'boolean', default: false },
    policies: { type: 'boolean', default: false },
  },
  async run({ values }) {
    const lab = labName(values.name);
    const { withLab } = await import('../read.js');
    if (values.policies) {
      return withLab('PolicyTruthTable', lab, values.json, async () => {
        const { loadLab } = await import('../../lab/load.js');
        const { formatTruthTable, verifyPolicies } = await import('../../lab/verify-policies.js');
        const t = await verifyPolicies(lab, loadLab(lab).cluster);
        if (!values.json) (await import('../tty.js')).say(formatTruthTable(t));
        else (await import('../json.js')).printJson('PolicyTruthTable', { exists: true, ...t });
        return t.mismatches === 0 ? 0 : 3;
      });
    }
    return withLab('VerifyReport', lab, values.json, async () => {
      const { loadLab } = await import('../../lab/load.js');
      const { formatReport, verifyLab } = await import('../../lab/verify.js');
      const { progress } = await import('../tty.js');
      const l = loadLab(lab);
      const done = progress(`verifying lab ${lab}`);
      const r = await verifyLab(lab, l.cluster, l.pausePids).finally(done);
      if (!values.json) (await import('../tty.js')).say(formatReport(l.cluster, r));
      else {
        const { printJson, verifyJson } = await import('../json.js');
        printJson('VerifyReport', verifyJson(r));
      }
      return r.failed === 0 ? 0 : 3;
    });
  },
});

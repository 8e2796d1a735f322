import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labVerify = defineCommand({
  name: 'lab verify',
  summary: 'probe every path: localhost, gateway, pod to pod, services (exit 3 when any fails)',
  help: `usage: podnet lab verify [--name LAB] [--json]

${NAME_HELP}
  --json              print JSON (schema in docs/lab.md)

exit codes: 0 every check passed, 3 some failed (listed)`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  async run({ values }) {
    const lab = labName(values.name);
    const { loadLab } = await import('../../lab/load.js');
    const { formatReport, verifyLab } = await import('../../lab/verify.js');
    const l = loadLab(lab);
    const r = await verifyLab(lab, l.cluster, l.pausePids);
    console.log(values.json ? JSON.stringify(r, null, 2) : formatReport(l.cluster, r));
    return r.failed === 0 ? 0 : 3;
  },
});

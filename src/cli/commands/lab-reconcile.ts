import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labReconcile = defineCommand({
  name: 'lab reconcile',
  summary: "repair every node's drift from its desired state, printing each command with its explanation",
  help: `usage: podnet lab reconcile [--name LAB] [--dry-run] [--json] [-v]

Observes each node (links, addresses, podnet's routes, FDB and neighbour entries, sysctls, the service proxy's
table or chains), compares it with the node's model and runs exactly the commands that remove the differences.
Objects podnet does not own (docs/kernel-objects.md) are left alone. On a node in sync it changes nothing.

${NAME_HELP}
  --dry-run           list the differences and print the repair; change nothing
  --json              print JSON, kind ReconcileReport (schema in docs/lab.md)
  -v, --verbose       print each command as it runs`,
  options: {
    ...NAME_FLAG,
    'dry-run': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
  async run({ values }) {
    const lab = labName(values.name);
    const { labReconcile } = await import('../../lab/reconcile.js');
    const r = await labReconcile(lab, { dryRun: values['dry-run'], verbose: values.verbose });
    if (values.json) {
      (await import('../json.js')).printJson('ReconcileReport', { exists: true, ...r });
      return 0;
    }
    if (!r.drift.length) {
      console.log(`lab ${lab}: every node in sync; ${r.commands} command(s) run`);
      return 0;
    }
    console.log(`lab ${lab}: ${r.drift.length} difference(s):`);
    for (const d of r.drift) console.log(`  ${d}`);
    console.log(r.dryRun ? '\nthe repair (not run):' : '\nthe repair, as run:');
    process.stdout.write(r.script);
    if (!r.dryRun) console.log(`${r.commands} command(s) run in ${Math.round(r.ms)} ms`);
    return 0;
  },
});

import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labInspect = defineCommand({
  name: 'lab inspect',
  summary: "each node's cross-node routes, FDB and neighbour entries, and the encapsulation overhead",
  help: `usage: podnet lab inspect [--name LAB] [--json]

${NAME_HELP}
  --json              print JSON, kind Inspection (schema in docs/lab.md)

exit codes: 0 ok, 1 no such lab (with --json: an Inspection with "exists": false)`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  async run({ values }) {
    const lab = labName(values.name);
    const { withLab } = await import('../read.js');
    return withLab('Inspection', lab, values.json, async () => {
      const { inspectCommand } = await import('../inspect.js');
      return inspectCommand(lab, values.json);
    });
  },
});

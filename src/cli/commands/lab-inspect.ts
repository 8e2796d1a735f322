import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labInspect = defineCommand({
  name: 'lab inspect',
  summary: "each node's cross-node routes, FDB and neighbour entries, and the encapsulation overhead",
  help: `usage: podnet lab inspect [--name LAB] [--json]

${NAME_HELP}
  --json              print JSON (schema in docs/lab.md)`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  async run({ values }) {
    const lab = labName(values.name);
    const { inspectCommand } = await import('../inspect.js');
    return inspectCommand(lab, values.json);
  },
});

import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labDown = defineCommand({
  name: 'lab down',
  summary: 'remove a lab: every <lab>-* namespace, its processes and its state (idempotent)',
  help: `usage: podnet lab down [--name LAB]

Kills the lab's processes, deletes every namespace named <lab>-* and removes its state; works after a crash.

${NAME_HELP}`,
  options: { ...NAME_FLAG },
  async run({ values }) {
    const lab = labName(values.name);
    const { labDown } = await import('../../lab/down.js');
    const r = await labDown(lab);
    console.log(
      `lab ${lab} is down: ${r.namespaces.length} namespace(s) removed, ${r.killed} process(es) stopped${r.stateRemoved ? ', state removed' : ''}`,
    );
    return 0;
  },
});

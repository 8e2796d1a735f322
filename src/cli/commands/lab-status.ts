import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labStatus = defineCommand({
  name: 'lab status',
  summary: "a lab's nodes and pods as the kernel has them now",
  help: `usage: podnet lab status [--name LAB] [--json]

${NAME_HELP}
  --json              print JSON (schema in docs/lab.md)`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  async run({ values }) {
    const lab = labName(values.name);
    const { loadLab } = await import('../../lab/load.js');
    const { formatStatus, labStatus } = await import('../../lab/status.js');
    const s = await labStatus(loadLab(lab));
    const { clusterStatus, formatClusterStatus } = await import('../../lab/cluster/status.js');
    const agents = clusterStatus(lab); // cluster mode (lab up --agents): etcd and each node's agent
    console.log(
      values.json
        ? JSON.stringify({ ...s, ...(agents ? { cluster: agents } : {}) }, null, 2)
        : formatStatus(s),
    );
    if (agents && !values.json) process.stdout.write(formatClusterStatus(agents));
    return 0;
  },
});

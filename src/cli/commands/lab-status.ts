import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labStatus = defineCommand({
  name: 'lab status',
  summary: "a lab's nodes and pods as the kernel has them now",
  help: `usage: podnet lab status [--name LAB] [--json]

In cluster mode (lab up --agents) also the control plane — etcd, and with --datastore kubernetes
kube-apiserver and kube-controller-manager: address, PID, running or STOPPED — and each node's agent.

${NAME_HELP}
  --json              print JSON, kind LabStatus (schema in docs/lab.md)

exit codes: 0 the lab exists, 1 it does not (with --json: a LabStatus with "exists": false)`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  async run({ values }) {
    const lab = labName(values.name);
    const { withLab } = await import('../read.js');
    return withLab('LabStatus', lab, values.json, async () => {
      const { loadLab } = await import('../../lab/load.js');
      const { formatStatus, labStatus } = await import('../../lab/status.js');
      const s = await labStatus(loadLab(lab));
      const { clusterStatus, formatClusterStatus } = await import('../../lab/cluster/status.js');
      const agents = clusterStatus(lab); // cluster mode (lab up --agents): etcd and each node's agent
      if (!values.json) {
        const { say } = await import('../tty.js');
        say(formatStatus(s));
        if (agents) process.stdout.write(formatClusterStatus(agents));
      } else {
        const { printJson, statusJson } = await import('../json.js');
        printJson('LabStatus', { ...statusJson(s), ...(agents ? { cluster: agents } : {}) });
      }
      return 0;
    });
  },
});

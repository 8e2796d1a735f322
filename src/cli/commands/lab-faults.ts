import { defineCommand, labName, NAME_FLAG, NAME_HELP, usage } from '../command.js';

/** One NODE word, or a usage error naming the command. */
function oneNode(cmd: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) usage(`name one node: podnet ${cmd} NODE`);
  return positionals[0]!;
}

function agentCommand(action: 'stop' | 'kill' | 'start', summary: string) {
  return defineCommand({
    name: `lab agent ${action}`,
    summary,
    help: `usage: podnet lab agent ${action} [--name LAB] NODE

${summary}. Cluster mode only (lab up --agents).

${NAME_HELP}`,
    options: { ...NAME_FLAG },
    positionals: true,
    async run({ values, positionals }) {
      const lab = labName(values.name);
      const node = oneNode(`lab agent ${action}`, positionals);
      const f = await import('../../lab/cluster/faults.js');
      if (action === 'start') {
        const pid = await f.agentStart(lab, node);
        console.log(`agent of ${node} started (PID ${pid}); it holds its lease and has synced`);
      } else {
        const pid = await f.agentStop(lab, node, action === 'kill' ? 'SIGKILL' : 'SIGTERM');
        console.log(
          `agent of ${node} (PID ${pid}) ${action === 'kill' ? 'killed (SIGKILL)' : 'stopped (SIGTERM)'}; its routes and rules stay`,
        );
      }
      return 0;
    },
  });
}

export const labAgentStop = agentCommand('stop', "stop a node's agent with SIGTERM");
export const labAgentKill = agentCommand('kill', "kill a node's agent with SIGKILL");
export const labAgentStart = agentCommand('start', "start a node's agent again");

function etcdCommand(action: 'stop' | 'start') {
  const summary =
    action === 'stop' ? "stop the lab's etcd (SIGTERM)" : "start the lab's etcd again, on its data";
  return defineCommand({
    name: `lab etcd ${action}`,
    summary,
    help: `usage: podnet lab etcd ${action} [--name LAB]

${summary}. Cluster mode only (lab up --agents).

${NAME_HELP}`,
    options: { ...NAME_FLAG },
    async run({ values }) {
      const lab = labName(values.name);
      const f = await import('../../lab/cluster/faults.js');
      const pid = action === 'stop' ? await f.etcdStop(lab) : await f.etcdStart(lab);
      console.log(`etcd ${action === 'stop' ? 'stopped' : 'started'} (PID ${pid})`);
      return 0;
    },
  });
}

export const labEtcdStop = etcdCommand('stop');
export const labEtcdStart = etcdCommand('start');

function partitionCommand(heal: boolean) {
  const summary = heal
    ? "restore a node's link to the control plane"
    : "cut a node's link to the control plane only (its pods still reach every other node)";
  const name = heal ? 'lab heal' : 'lab partition';
  return defineCommand({
    name,
    summary,
    help: `usage: podnet ${name} [--name LAB] NODE

${summary}: frames between the node's switch port and etcd's are ${heal ? 'let through again' : 'dropped on the switch'}.
Cluster mode only (lab up --agents).

${NAME_HELP}`,
    options: { ...NAME_FLAG },
    positionals: true,
    async run({ values, positionals }) {
      const lab = labName(values.name);
      const node = oneNode(name, positionals);
      const { partition } = await import('../../lab/cluster/faults.js');
      const cut = await partition(lab, node, heal);
      console.log(
        `${node} ${heal ? 'healed' : 'partitioned from the control plane'}; cut off now: ${cut.join(', ') || 'none'}`,
      );
      return 0;
    },
  });
}

export const labPartition = partitionCommand(false);
export const labHeal = partitionCommand(true);

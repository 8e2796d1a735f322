import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

export const labKubeconfig = defineCommand({
  name: 'lab kubeconfig',
  summary: "print the path of a lab's admin kubeconfig (lab up --agents --datastore kubernetes)",
  help: `usage: podnet lab kubeconfig [--name LAB]

Prints the path of the lab's admin kubeconfig. The API server listens on the lab's control-plane address,
inside the lab, so run kubectl there:
  ip netns exec LAB-etcd kubectl --kubeconfig "$(podnet lab kubeconfig --name LAB)" get nodes,endpointslices -A

${NAME_HELP}`,
  options: { ...NAME_FLAG },
  async run({ values }) {
    const lab = labName(values.name);
    const { kubeconfigPath } = await import('../../lab/cluster/kube-change.js');
    console.log(kubeconfigPath(lab));
    return 0;
  },
});

function apiserverCommand(action: 'stop' | 'start') {
  const summary =
    action === 'stop'
      ? "stop the lab's kube-apiserver (SIGTERM)"
      : "start the lab's kube-apiserver again, on the same etcd";
  return defineCommand({
    name: `lab apiserver ${action}`,
    summary,
    help: `usage: podnet lab apiserver ${action} [--name LAB]

${summary}. Labs on the Kubernetes API only (lab up --agents --datastore kubernetes).

${NAME_HELP}`,
    options: { ...NAME_FLAG },
    async run({ values }) {
      const lab = labName(values.name);
      const f = await import('../../lab/cluster/kube-change.js');
      const pid = action === 'stop' ? await f.apiserverStop(lab) : await f.apiserverStart(lab);
      console.log(`kube-apiserver ${action === 'stop' ? 'stopped' : 'started'} (PID ${pid})`);
      return 0;
    },
  });
}

export const labApiserverStop = apiserverCommand('stop');
export const labApiserverStart = apiserverCommand('start');

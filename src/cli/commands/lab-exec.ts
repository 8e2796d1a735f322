import { defineCommand, labName, NAME_FLAG, NAME_HELP, usage } from '../command.js';

export const labExec = defineCommand({
  name: 'lab exec',
  summary: "run a command in a pod's namespaces (like kubectl exec)",
  help: `usage: podnet lab exec [--name LAB] POD [-c CONTAINER] -- CMD...

${NAME_HELP}
  -c, --container NAME  join this container's root (default: the pod's namespaces with the host's files)`,
  options: { ...NAME_FLAG, container: { type: 'string', short: 'c' } },
  positionals: true,
  dashdash: true,
  async run({ values, positionals, tail }) {
    const lab = labName(values.name);
    const [pod, ...extra] = positionals;
    if (!pod) usage('name the pod: podnet lab exec POD -- CMD...');
    if (extra.length) usage(`unexpected '${extra.join(' ')}': put the command after --`);
    const { loadLab } = await import('../../lab/load.js');
    const { labExec } = await import('../../lab/exec.js');
    return labExec(loadLab(lab), pod, values.container, tail);
  },
});

import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

const VERBOSE = { verbose: { type: 'boolean', short: 'v', default: false } } as const;
const VERBOSE_HELP = '  -v, --verbose       print each command as it runs';

export const labPolicyApply = defineCommand({
  name: 'lab policy apply',
  summary: 'add or change NetworkPolicies and sync every node (only what changed; denied connections cut)',
  help: `usage: podnet lab policy apply [--name LAB] -f POLICY.yaml

${NAME_HELP}
  -f, --file FILE     NetworkPolicy manifest(s), networking.k8s.io/v1 (docs/network-policy.md)
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, file: { type: 'string', short: 'f' }, ...VERBOSE },
  async run({ values }) {
    const { policyApply } = await import('../policy.js');
    return policyApply(labName(values.name), values);
  },
});

export const labPolicyDelete = defineCommand({
  name: 'lab policy delete',
  summary: 'delete NetworkPolicies and sync every node',
  help: `usage: podnet lab policy delete [--name LAB] NAME|NAMESPACE/NAME...

${NAME_HELP}
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { policyDelete } = await import('../policy.js');
    return policyDelete(labName(values.name), positionals, values);
  },
});

export const labPolicyWhy = defineCommand({
  name: 'lab policy why',
  summary:
    'why a connection is allowed or denied: the policies and rules deciding it, and the counters it moves',
  help: `usage: podnet lab policy why [--name LAB] [--json] FROM TO[:PORT][/tcp|udp]

  FROM, TO            NAMESPACE/POD, a lab pod name, or an IPv4 address; PORT defaults to 80, protocol to tcp
${NAME_HELP}
  --json              print JSON, kind PolicyDecision (schema in docs/lab.md): the evaluator's decision,
                      and what one real connection did`,
  options: { ...NAME_FLAG, json: { type: 'boolean', default: false } },
  positionals: true,
  async run({ values, positionals }) {
    const { policyWhy } = await import('../policy.js');
    return policyWhy(labName(values.name), positionals, values);
  },
});

export const labPodLabel = defineCommand({
  name: 'lab pod label',
  summary: "set or remove a pod's labels (KEY=VALUE, KEY-) and sync NetworkPolicy on every node",
  help: `usage: podnet lab pod label [--name LAB] POD KEY=VALUE|KEY-...

  POD                 NAMESPACE/NAME or the lab's pod name
${NAME_HELP}
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { podLabel } = await import('../policy.js');
    return podLabel(labName(values.name), positionals, values);
  },
});

export const labNamespaceLabel = defineCommand({
  name: 'lab namespace label',
  summary: "set or remove a namespace's labels and sync NetworkPolicy on every node",
  help: `usage: podnet lab namespace label [--name LAB] NAMESPACE KEY=VALUE|KEY-...

${NAME_HELP}
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { namespaceLabel } = await import('../policy.js');
    return namespaceLabel(labName(values.name), positionals, values);
  },
});

import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';

const VERBOSE = { verbose: { type: 'boolean', short: 'v', default: false } } as const;
const VERBOSE_HELP = '  -v, --verbose       print each command as it runs';

export const labNodeAdd = defineCommand({
  name: 'lab node add',
  summary: 'add a node to a running lab (only the new node is built; the others get its routes)',
  help: `usage: podnet lab node add [--name LAB] NODE [--ip IP] [--segment SEG]

${NAME_HELP}
  --ip IP             its underlay address (default: the next free one)
  --segment SEG       the L2 segment its uplink is on (default: the underlay)
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ip: { type: 'string' }, segment: { type: 'string' }, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { changeCommand } = await import('../change.js');
    return changeCommand('node', labName(values.name), ['add', ...positionals], values);
  },
});

export const labNodeRemove = defineCommand({
  name: 'lab node remove',
  summary: 'remove a node (its pods go with it)',
  help: `usage: podnet lab node remove [--name LAB] NODE

${NAME_HELP}
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { changeCommand } = await import('../change.js');
    return changeCommand('node', labName(values.name), ['remove', ...positionals], values);
  },
});

export const labPodAdd = defineCommand({
  name: 'lab pod add',
  summary: 'add a pod to a running lab',
  help: `usage: podnet lab pod add [--name LAB] POD --node NODE [--ip IP] [--label k=v]...

${NAME_HELP}
  --node NODE         the node it runs on (required)
  --ip IP             pin its address (default: the node's lowest free one)
  --label k=v         a label (repeatable)
${VERBOSE_HELP}`,
  options: {
    ...NAME_FLAG,
    node: { type: 'string' },
    ip: { type: 'string' },
    label: { type: 'string', multiple: true },
    ...VERBOSE,
  },
  positionals: true,
  async run({ values, positionals }) {
    const { changeCommand } = await import('../change.js');
    return changeCommand('pod', labName(values.name), ['add', ...positionals], values);
  },
});

export const labPodRemove = defineCommand({
  name: 'lab pod remove',
  summary: 'remove a pod from a running lab',
  help: `usage: podnet lab pod remove [--name LAB] POD

${NAME_HELP}
${VERBOSE_HELP}`,
  options: { ...NAME_FLAG, ...VERBOSE },
  positionals: true,
  async run({ values, positionals }) {
    const { changeCommand } = await import('../change.js');
    return changeCommand('pod', labName(values.name), ['remove', ...positionals], values);
  },
});

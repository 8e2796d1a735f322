import { defineCommand } from '../command.js';

export const labList = defineCommand({
  name: 'lab list',
  summary: 'every lab on this machine, with its state',
  help: `usage: podnet lab list [--json]

Labs with a state directory, and namespaces <lab>-switch left without one (orphaned: 'lab down' removes them).
States: up, creating (up is running or was interrupted), degraded (a namespace or pause process is gone),
orphaned.

  --json              print JSON, kind LabList (schema in docs/lab.md)`,
  options: { json: { type: 'boolean', default: false } },
  async run({ values }) {
    const { formatLabList, listLabs } = await import('../../lab/list.js');
    const labs = listLabs();
    if (!values.json) (await import('../tty.js')).say(formatLabList(labs));
    else {
      const { listJson, printJson } = await import('../json.js');
      printJson('LabList', listJson(labs));
    }
    return 0;
  },
});

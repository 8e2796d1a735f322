import { readFileSync } from 'node:fs';
import { defineCommand, labName, NAME_FLAG, NAME_HELP } from '../command.js';
import { OVERRIDE_FLAGS, OVERRIDE_HELP, overridesOf } from './overrides.js';

export const labExplain = defineCommand({
  name: 'lab explain',
  summary: 'print the commands a lab ran (or would run), each with a one-line explanation',
  help: `usage: podnet lab explain [--name LAB] [-f FILE] [overrides]

Without -f, a lab that is up prints the script it ran and its service proxy rules now; otherwise the script
that 'lab up' would run for FILE (or the default cluster), as 'lab up --dry-run' does.

${NAME_HELP}
  -f, --file FILE        cluster spec (docs/spec.md)
${OVERRIDE_HELP}`,
  options: { ...NAME_FLAG, file: { type: 'string', short: 'f' }, ...OVERRIDE_FLAGS },
  async run({ values }) {
    const lab = labName(values.name);
    const overrides = overridesOf(values);
    const { loadLab } = await import('../../lab/load.js');
    let l: ReturnType<typeof loadLab> | undefined;
    if (!values.file && Object.keys(overrides).length === 0) {
      try {
        l = loadLab(lab);
      } catch {}
    }
    if (l) {
      const { explainProxy } = await import('../service.js');
      process.stdout.write(readFileSync(l.state.path('explain.sh'), 'utf8'));
      process.stdout.write(explainProxy(lab));
      return 0;
    }
    const { loadSpec, readSpecFile } = await import('../../lab/spec-source.js');
    const { explainUp } = await import('../../lab/up.js');
    const { resolveCluster } = await import('../../model/resolve.js');
    const { text, source } = readSpecFile(values.file);
    process.stdout.write(await explainUp(resolveCluster(loadSpec(text, source, overrides)), lab));
    return 0;
  },
});

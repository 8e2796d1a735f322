import { readFileSync } from 'node:fs';
import { defineCommand, labName, NAME_FLAG, NAME_HELP, usage } from '../command.js';
import { OVERRIDE_FLAGS, OVERRIDE_HELP, overridesOf } from './overrides.js';

export const labExplain = defineCommand({
  name: 'lab explain',
  summary: 'print the commands a lab ran (or would run), each with a one-line explanation',
  help: `usage: podnet lab explain [--name LAB] [-f FILE] [overrides] [--walk FROM TO]

Without -f, a lab that is up prints the script it ran and its service proxy rules now; otherwise the script
that 'lab up' would run for FILE (or the default cluster), as 'lab up --dry-run' does.

${NAME_HELP}
  -f, --file FILE        cluster spec (docs/spec.md)
  --walk                 print the numbered packet walk FROM TO (the two words after the flags) from the model
${OVERRIDE_HELP}`,
  options: {
    ...NAME_FLAG,
    file: { type: 'string', short: 'f' },
    walk: { type: 'boolean', default: false },
    ...OVERRIDE_FLAGS,
  },
  positionals: true,
  async run({ values, positionals }) {
    const lab = labName(values.name);
    const overrides = overridesOf(values);
    if (values.walk) return walk(lab, values.file, overrides, positionals);
    if (positionals.length)
      usage(`unexpected word(s): ${positionals.join(' ')}`, 'did you mean --walk FROM TO?');
    const { loadLab } = await import('../../lab/load.js');
    let l: ReturnType<typeof loadLab> | undefined;
    if (!values.file && Object.keys(overrides).length === 0) {
      try {
        l = loadLab(lab);
      } catch {}
    }
    if (l) {
      const { explainProxy } = await import('../../lab/explain-proxy.js');
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

/** `--walk FROM TO`: from the lab that is up, else from FILE (or the default cluster); no root needed for a file. */
async function walk(
  lab: string,
  file: string | undefined,
  overrides: Record<string, string>,
  words: readonly string[],
): Promise<number> {
  if (words.length !== 2)
    usage(`--walk needs FROM and TO (got ${words.length} word(s))`, 'e.g. --walk c default/web:http');
  const { walkText } = await import('../../lab/trace/walk.js');
  const { loadLab } = await import('../../lab/load.js');
  let cluster: import('../../model/resolve.js').Cluster | undefined;
  if (!file && Object.keys(overrides).length === 0) {
    try {
      cluster = loadLab(lab).cluster;
    } catch {}
  }
  if (!cluster) {
    const { loadSpec, readSpecFile } = await import('../../lab/spec-source.js');
    const { resolveCluster } = await import('../../model/resolve.js');
    const { text, source } = readSpecFile(file);
    cluster = resolveCluster(loadSpec(text, source, overrides));
  }
  process.stdout.write(walkText(cluster, lab, words[0]!, words[1]!));
  return 0;
}

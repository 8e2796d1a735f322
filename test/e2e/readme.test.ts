import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cli, needsRoot, netnsWithPrefix, ROOT, uniqueLab } from '../helpers/cli.js';

/**
 * The README's "30 seconds" sample is what the commands print today (issue 9, "Done when"): `lab up`, `lab
 * verify` and `lab list` of the default cluster, line for line, once the parts that vary from run to run are
 * written alike (the lab's name, milliseconds, namespace inodes, how many answers each endpoint got, dates).
 */

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The output the README shows after `# podnet <command>`, up to the next `# podnet` line. */
function sample(command: string): string[] {
  const block = README.slice(README.indexOf('## 30 seconds'));
  const lines = block.slice(block.indexOf('```text') + 8, block.indexOf('```', block.indexOf('```text') + 8));
  const all = lines.split('\n');
  const start = all.indexOf(`# podnet ${command}`);
  assert.ok(start >= 0, `README shows '# podnet ${command}'`);
  const rest = all.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith('# podnet '));
  return rest.slice(0, end < 0 ? rest.length : end).filter((l, i, a) => l !== '' || i < a.length - 1);
}

function normal(lines: readonly string[], lab: string): string[] {
  return lines
    .map((l) =>
      l
        .replaceAll(` --name ${lab}`, '')
        .replace(new RegExp(`\\b${lab}\\b`, 'g'), 'podnet')
        .replace(/in \d+ ms/, 'in N ms')
        .replace(/net:\[\d+\]/, 'net:[N]')
        // Answers per endpoint: the names, in order, without the counts (the spread is random).
        .replace(
          /: ((?:[a-z0-9-]+:\d+ ?)+)$/,
          (_m, a: string) =>
            `: ${a
              .trim()
              .split(' ')
              .map((x) => x.split(':')[0])
              .sort()
              .join(' ')}`,
        ),
    )
    .filter((l, i, a) => l !== '' || (i > 0 && i < a.length - 1));
}

const labs: string[] = [];
after(async () => {
  for (const l of labs) await cli(['lab', 'down', '--name', l]);
  for (const l of labs) assert.deepEqual(netnsWithPrefix(`${l}-`), [], `lab ${l} left namespaces`);
});

describe("README's sample output", { skip: needsRoot }, () => {
  const lab = uniqueLab('rd');
  labs.push(lab);

  test('lab up, lab verify and lab list print what the README shows', async () => {
    const up = await cli(['lab', 'up', '--name', lab]);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(normal(up.stdout.trimEnd().split('\n'), lab), normal(sample('lab up'), lab));
    const verify = await cli(['lab', 'verify', '--name', lab]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.deepEqual(normal(verify.stdout.trimEnd().split('\n'), lab), normal(sample('lab verify'), lab));
    const list = await cli(['lab', 'list']);
    const [head, ...rows] = sample('lab list');
    const words = (l: string) => l.trim().split(/\s{2,}/);
    assert.deepEqual(words(list.stdout.split('\n')[0]!), words(head!));
    const row = list.stdout.split('\n').find((l) => l.startsWith(`${lab} `));
    assert.ok(row, list.stdout);
    const date = /\d{4}-\d\d-\d\dT[\d:.]+Z/;
    assert.deepEqual(
      words(row.replace(lab, 'podnet').replace(date, 'DATE')),
      words(rows[0]!.replace(date, 'DATE')),
    );
  });
});

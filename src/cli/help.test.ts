import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { COMMANDS, GROUPS } from './commands/index.js';
import { alignFlags } from './help.js';
import { helpFor } from './main.js';

test("every command's --help names every flag its parser accepts", () => {
  const missing: string[] = [];
  for (const c of COMMANDS) {
    for (const [long, o] of Object.entries(c.options)) {
      if (!new RegExp(`(^|[\\s\\[,])--${long}\\b`).test(c.help)) missing.push(`${c.name}: --${long}`);
      if (o.short && !new RegExp(`(^|[\\s\\[,])-${o.short}\\b`).test(c.help))
        missing.push(`${c.name}: -${o.short}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('every command has a summary, a usage line naming it, and a group that exists', () => {
  for (const c of COMMANDS) {
    assert.ok(c.summary.length > 0, c.name);
    assert.match(c.help, new RegExp(`^usage: podnet ${c.name}\\b`), c.name);
    const group = c.name.split(' ').slice(0, -1).join(' ');
    if (group) assert.ok(GROUPS[group], `${c.name}: group '${group}' has no line in GROUPS`);
  }
  assert.equal(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length, 'command names are unique');
});

test('help resolves commands, groups and everything', () => {
  assert.match(helpFor(['lab', 'up']), /^usage: podnet lab up/);
  assert.match(helpFor(['lab']), /podnet lab up +build a lab/);
  assert.match(helpFor(['lab']), /podnet lab service list/);
  assert.doesNotMatch(helpFor(['lab']), /cni install/);
  for (const c of COMMANDS) assert.match(helpFor([]), new RegExp(`podnet ${c.name} `));
  assert.throws(() => helpFor(['lab', 'nope']), /no command 'lab nope'/);
});

test('alignFlags puts every flag text in one column', () => {
  const out = alignFlags('usage: x\n  --a X   one\n  -b, --bee LONGER  two\nnot  a flag');
  assert.equal(out, 'usage: x\n  --a X             one\n  -b, --bee LONGER  two\nnot  a flag');
});

test('docs/lab.md documents every command, every flag, and the help text as the CLI prints it', () => {
  const doc = readFileSync(new URL('../../../docs/lab.md', import.meta.url), 'utf8');
  const missing: string[] = [];
  for (const c of COMMANDS) {
    if (!doc.includes(`### \`podnet ${c.name}\``)) missing.push(`section podnet ${c.name}`);
    if (!doc.includes(alignFlags(c.help)))
      missing.push(`help text of podnet ${c.name} (regenerate the reference)`);
    for (const long of Object.keys(c.options))
      if (!new RegExp(`--${long}\\b`).test(doc)) missing.push(`${c.name}: --${long}`);
  }
  assert.deepEqual(missing, []);
});

test('docs/lab.md documents the JSON kind of every command that takes --json', () => {
  const doc = readFileSync(new URL('../../../docs/lab.md', import.meta.url), 'utf8');
  for (const c of COMMANDS.filter((x) => 'json' in x.options)) {
    const kind = /kind (\w+)/.exec(c.help)?.[1];
    assert.ok(kind, `${c.name}: its --help names its JSON kind`);
    assert.match(doc, new RegExp(`### ${kind} \\(\`${c.name} --json\`\\)`), c.name);
  }
});

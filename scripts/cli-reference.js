// Rewrites the "Command reference" section at the end of docs/lab.md from the command table: every command's
// --help text as the CLI prints it (src/cli/help.test.ts checks that the page matches). Run after `npm run
// build` whenever a command or a flag changes: node scripts/cli-reference.js
import { readFileSync, writeFileSync } from 'node:fs';

const { COMMANDS } = await import('../dist/src/cli/commands/index.js');
const { alignFlags } = await import('../dist/src/cli/help.js');
const page = new URL('../docs/lab.md', import.meta.url);
const text = readFileSync(page, 'utf8');
const head = '## Command reference';
const at = text.indexOf(head);
if (at < 0) throw new Error(`docs/lab.md has no '${head}' section`);
const sections = COMMANDS.map(
  (c) => `### \`podnet ${c.name}\`\n\n${c.summary}\n\n\`\`\`text\n${alignFlags(c.help)}\n\`\`\``,
);
writeFileSync(
  page,
  `${text.slice(0, at)}${head}\n\nThe \`--help\` text of every command, as \`podnet COMMAND --help\` prints it (written by\n\`node scripts/cli-reference.js\`).\n\n${sections.join('\n\n')}\n`,
);

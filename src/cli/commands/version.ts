import { readFileSync } from 'node:fs';
import { defineCommand } from '../command.js';

export const version = defineCommand({
  name: 'version',
  summary: "print podnet's version",
  help: 'usage: podnet version',
  options: {},
  async run() {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    console.log(pkg.version);
    return 0;
  },
});

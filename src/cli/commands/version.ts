import { defineCommand } from '../command.js';

/** The package version, set by the CLI bundle (scripts/bundle-cli.ts); read from package.json unbundled. */
declare const __PODNET_VERSION__: string | undefined;

export const version = defineCommand({
  name: 'version',
  summary: "print podnet's version",
  help: `usage: podnet version [--json]

  --json              print JSON, kind Version: {"version", "node"} (docs/lab.md)`,
  options: { json: { type: 'boolean', default: false } },
  async run({ values }) {
    let v: string;
    if (typeof __PODNET_VERSION__ === 'string') v = __PODNET_VERSION__;
    else {
      const { readFileSync } = await import('node:fs');
      const url = new URL('../../../../package.json', import.meta.url);
      v = (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
    }
    if (!values.json) console.log(v);
    else {
      const { printJson } = await import('../json.js');
      printJson('Version', { version: v, node: process.versions.node });
    }
    return 0;
  },
});

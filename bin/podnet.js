#!/usr/bin/env node
// Entry point: the CNI plugin when CNI_COMMAND is set (a runtime exec'd us; see docs/cni.md), otherwise the CLI.
// The CNI path loads only dist/src/cni (no CLI, lab or YAML code): start-up time is part of every pod's ADD.
// The CLI is bundled CommonJS, dist/cli/main.cjs (the command table and what every command runs) and the chunk
// files a command requires on first use, plus yaml and prom-client in dist/vendor/ (see scripts/bundle-cli.js),
// each file compiled with V8's code cache kept beside it: Node.js 20 caches no compiled code of its own. This
// file is CommonJS (bin/package.json): Node's ES module loader, and the stream modules its `import` of node:fs
// pulls in, cost tens of ms per start. Without the bundle (no esbuild at build time) the unbundled dist/ runs instead.
'use strict';
const { existsSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { basename, join } = require('node:path');

const DIST = join(__dirname, '..', 'dist');
// `podnet agent` has a bundle of its own (the agent's code only): its start-up is on every node join's path.
const BUNDLE = process.argv[2] === 'agent' ? join(DIST, 'podnet-agent.cjs') : join(DIST, 'cli', 'main.cjs');
/** Packages the bundle requires from files of their own (scripts/bundle-cli.js), loaded on first require only. */
const VENDOR = {
  yaml: join(DIST, 'vendor', 'yaml.cjs'),
  'prom-client': join(DIST, 'vendor', 'prom-client.cjs'),
};

if (process.env.CNI_COMMAND) import('../dist/src/cni/main.js').then((m) => m.main());
else if (!existsSync(BUNDLE)) import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
else runBundle();

/**
 * Which code cache a command line uses: one per command (`lab-up`), as each holds the functions its command
 * compiled (help's is small, `lab up`'s holds the YAML parser and the schemas); `help` for any help text.
 */
function cacheKey(argv) {
  const words = [];
  for (const a of argv) {
    if (a === '--help' || a === '-h' || a === 'help') return 'help';
    if (a.startsWith('-') || words.length === 2) break;
    words.push(a);
  }
  if (words.length === 0) return 'help';
  return words.every((w) => /^[a-z]{1,12}$/.test(w)) ? words.join('-') : 'other';
}

/**
 * Runs the bundle. Its files are packs of modules (scripts/bundle-cli.js): loading one registers its modules,
 * and each module runs on its first require('./NAME'), which loads the file NAME beside the bundle if no pack
 * loaded so far holds it. A vendored package loads its own file; anything else is Node's require.
 */
function runBundle() {
  const argv = process.argv.slice(2);
  const key = cacheKey(argv);
  const stale = [];
  const base = require('node:module').createRequire(BUNDLE);
  const members = {};
  const modules = {};
  const req = Object.assign((id) => {
    if (modules[id]) return modules[id].exports;
    if (VENDOR[id]) {
      modules[id] = load(VENDOR[id], key, base, stale);
      return modules[id].exports;
    }
    if (!id.startsWith('./')) return base(id);
    if (!members[id]) pack(join(BUNDLE, '..', id));
    const mod = { exports: {} };
    modules[id] = mod; // before it runs, as Node's require does (cycles)
    members[id](mod.exports, req, mod);
    return mod.exports;
  }, base);
  const pack = (file) => {
    for (const [name, run] of Object.entries(load(file, key, req, stale).exports))
      members[`./${name}`] ??= run;
  };
  pack(BUNDLE);
  const cli = req(`./${basename(BUNDLE)}`);
  // Only for command lines the table knows (a typo must not leave a cache file behind).
  if (cli.knownCommand(key))
    process.once('exit', () => {
      for (const save of stale) save();
    });
  return cli.main(argv);
}

/**
 * Compiles one bundled file (already wrapped as a CommonJS function, and pure ASCII: read as latin1, no UTF-8
 * decoding) with its code cache for `key`, and runs it; returns its module. When there was
 * no cache or V8 refused it, `stale` receives a function that writes a new one (on exit, so it holds every
 * function the command compiled).
 */
function load(file, key, req, stale) {
  const { Script } = require('node:vm');
  const cacheFile = `${file}.${key}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {}
  const script = new Script(readFileSync(file, 'latin1'), { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, req, mod, file, join(file, '..'));
  if (cachedData === undefined || script.cachedDataRejected)
    stale.push(() => {
      try {
        writeFileSync(`${cacheFile}.${process.pid}`, script.createCachedData());
        renameSync(`${cacheFile}.${process.pid}`, cacheFile);
      } catch {
        // a read-only install: every run compiles, as without the cache
      }
    });
  return mod;
}

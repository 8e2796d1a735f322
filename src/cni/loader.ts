/**
 * The one node argument of the plugin's #! line (the native client passes it too, with CLIENT_NODE_ARGS).
 * --preserve-symlinks-main: Node does not resolve the script's real path (a walk of lstat calls); the loader
 * needs no real path.
 */
export const PLUGIN_NODE_ARG = '--preserve-symlinks-main';

/**
 * The node arguments the native client starts the plugin with (it is not bound to the #! line's one argument).
 * --jitless: a plugin process is too short-lived for V8's compilers to pay back (docs/cni.md, "Start-up cost").
 * --no-expose-wasm: --jitless turns WebAssembly off and, unasked, prints a warning saying so on every start.
 */
export const CLIENT_NODE_ARGS = ['--jitless', '--no-expose-wasm', PLUGIN_NODE_ARG] as const;

/**
 * The installed plugin file: a few lines of loader that compile the bundled plugin code (`codeFile`, written by
 * install beside it) with V8's code cache when one exists, and write the cache after a verb's first and second
 * runs (it then holds every function those runs compiled). Node.js 20 has no compile cache of its own, and
 * compiling the plugin on every invocation cost a third of an ADD's own time.
 * - The code is a file of its own, not a string literal inside the loader (which V8 scanned and decoded on every
 *   start).
 * - The addon (`addonFile`) maps the code (ASCII: V8 takes it as an external one-byte string) and the cache:
 *   read(2) would copy them into freshly faulted pages, which cost more than the copy here. Without the addon,
 *   readFileSync's 'utf8' path (Node makes the string in C++; 'latin1' makes a Buffer in JavaScript and copies).
 * - The process ends with _exit(2) through the addon once the plugin calls process.exit (below).
 * - The cache is plain data in a root-only directory (`/run/podnet`, usually tmpfs), keyed by a hash of the code,
 *   by verb and by mode; V8 rejects a cache made by another Node.js version, under other flags or for other code,
 *   and the loader then compiles as usual and writes a fresh one.
 */
export function loaderSource(o: {
  nodePath: string;
  codeFile: string;
  sha: string;
  cacheDir: string;
  /** The netlink addon installed beside the code; absent when install had no C compiler. */
  addonFile?: string;
}): string {
  // A #! line carries one argument, and this is it.
  return `#!${o.nodePath} ${PLUGIN_NODE_ARG}
// podnet CNI plugin, written by \`podnet cni install\` (see docs/cni.md). The plugin's code is ${o.codeFile},
// compiled with V8's code cache from ${o.cacheDir} when there is one (src/cni/loader.ts explains why).
'use strict';
const { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
const CODE = ${JSON.stringify(o.codeFile)};
// mapFile / mapLatin1 from the addon when it loads and has them (the plugin's code loads it again later: the
// same handle); plain reads otherwise.
const ADDON = ${JSON.stringify(o.addonFile ?? '')};
let addon;
if (ADDON)
  try {
    const m = { exports: {} };
    process.dlopen(m, ADDON);
    addon = m.exports;
  } catch {}
const bytes = (f) => (addon && addon.mapFile ? addon.mapFile(f) : readFileSync(f));
const source = () => {
  if (addon && addon.mapLatin1)
    try {
      return addon.mapLatin1(CODE);
    } catch {}
  return readFileSync(CODE, 'utf8');
};
// One cache per verb: each holds the functions its verb compiled (ADD's are not VERSION's).
const VERB = /^[A-Z]{1,10}$/.test(process.env.CNI_COMMAND ?? '') ? process.env.CNI_COMMAND : 'OTHER';
// V8 rejects a cache made under other flags: the client's runs (--jitless) and direct runs keep one each.
const MODE = process.execArgv.includes('--jitless') ? '' : '.jit';
const CACHE = \`${o.cacheDir}/cni-${o.sha}-\${VERB}\${MODE}.code-cache\`;
// The cache is written after a verb's first run, and again after its second, from which it also learns what the
// first did not run (the first ADD of a node makes the bridge, later ones find it).
const FIRST = \`${o.cacheDir}/cni-${o.sha}-\${VERB}\${MODE}.first.code-cache\`;
let cachedData;
let from;
for (const f of [CACHE, FIRST])
  try {
    cachedData = bytes(f);
    from = f;
    break;
  } catch {}
const script = new Script(source(), { filename: CODE, cachedData });
const rejected = cachedData === undefined || script.cachedDataRejected;
const target = rejected ? (from ?? FIRST) : from === FIRST ? CACHE : undefined;
if (target)
  process.once('exit', () => {
    try {
      mkdirSync(${JSON.stringify(o.cacheDir)}, { recursive: true, mode: 0o700 });
      writeFileSync(\`\${target}.\${process.pid}\`, script.createCachedData());
      renameSync(\`\${target}.\${process.pid}\`, target);
      if (target === CACHE && from === FIRST) unlinkSync(FIRST);
      // Temporary files of writers that were killed. (Caches of other code are removed by the next install.)
      for (const f of readdirSync(${JSON.stringify(o.cacheDir)}))
        if (/\\.code-cache\\.\\d+$/.test(f) && !f.endsWith(\`.\${process.pid}\`)) unlinkSync(\`${o.cacheDir}/\${f}\`);
    } catch {}
  });
// process.exit() runs the 'exit' listeners (the cache writer above), then process.reallyExit, which tears Node.js
// down (V8's worker threads joined, atexit handlers: docs/cni.md, "Start-up cost"). The plugin writes its
// answer with write(2) before it exits and leaves nothing pending, so _exit(2) loses nothing. (A Node.js that
// stops calling reallyExit only exits the slow way.)
if (addon && addon.exitNow) process.reallyExit = addon.exitNow;
script.runInThisContext()(exports, require, module, __filename, __dirname);
`;
}

/** The plugin code's file name inside the plugin's home (install.ts): one per code hash. */
export const codeFileName = (sha: string): string => `code-${sha}.js`;
/** Recognises code files, current or replaced (install removes replaced ones but the newest of them). */
export const CODE_FILE_RE = /^code-[0-9a-f]{16}\.js$/;

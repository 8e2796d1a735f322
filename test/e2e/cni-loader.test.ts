import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loaderSource } from '../../src/cni/loader.js';
import { builtAddon, loadBuiltNative } from '../../src/exec/netlink/native.js';

/**
 * The plugin's loader (src/cni/loader.ts) with the addon mapping its code and code cache, and without it (no C
 * compiler at install, or an addon that does not load): the same code runs, the same caches are written and read.
 */
const native = loadBuiltNative();
const root = mkdtempSync(join(tmpdir(), 'podnet-loader-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('the addon maps files', { skip: !native?.mapFile && 'no compiled addon' }, () => {
  test('exitNow ends the process with that status, at once', () => {
    const load = `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(builtAddon())});`;
    const r = spawnSync(
      process.execPath,
      ['-e', `${load} m.exports.exitNow(7); console.log('not reached');`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 7, r.stderr);
    assert.equal(r.stdout, '');
  });

  test('mapFile gives the bytes, mapLatin1 the one-byte string; empty files; a missing one throws', () => {
    const bin = join(root, 'all-bytes');
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    writeFileSync(bin, bytes);
    assert.deepEqual(native!.mapFile!(bin), bytes);
    const text = join(root, 'text.js');
    const code = `(${'x'.repeat(5000)}) => 'mapped';`;
    writeFileSync(text, code);
    const s = native!.mapLatin1!(text);
    assert.equal(s, code);
    assert.equal(s.length, code.length);
    writeFileSync(join(root, 'empty'), '');
    assert.equal(native!.mapFile!(join(root, 'empty')).length, 0);
    assert.equal(native!.mapLatin1!(join(root, 'empty')), '');
    assert.throws(
      () => native!.mapFile!(join(root, 'missing')),
      (e: NodeJS.ErrnoException) => e.code === 'ERRNO_2' && e.message.includes(join(root, 'missing')),
    );
    assert.throws(() => native!.mapLatin1!(join(root, 'missing')), /missing/);
  });
});

describe('the plugin loader', () => {
  const variants = [
    ['with the addon', native?.mapFile ? 'addon' : undefined],
    ['without an addon', ''],
    ['with an addon file that does not load', 'broken'],
  ] as const;
  for (const [name, addon] of variants)
    test(
      `${name}: runs the code, writes the cache after the first and second runs, then reads it`,
      {
        skip: addon === undefined && 'no compiled addon',
      },
      () => {
        const dir = mkdtempSync(join(root, 'v-'));
        const codeFile = join(dir, 'code.js');
        writeFileSync(
          codeFile,
          // Exits as the plugin does: process.exit after a synchronous write (with the addon, through _exit).
          '(function (exports, require, module, __filename, __dirname) {' +
            " require('node:fs').writeSync(1, 'ran ' + typeof require); process.exit(3); })",
        );
        const addonFile = addon ? join(dir, 'netlink.node') : undefined;
        if (addon === 'addon') copyFileSync(builtAddon(), addonFile!);
        if (addon === 'broken') writeFileSync(addonFile!, 'not an ELF file');
        const loader = join(dir, 'plugin');
        const cacheDir = join(dir, 'cache');
        const sha = '0123456789abcdef';
        writeFileSync(
          loader,
          loaderSource({
            nodePath: process.execPath,
            codeFile,
            sha,
            cacheDir,
            ...(addonFile ? { addonFile } : {}),
          }),
        );
        const run = () => {
          const r = spawnSync(process.execPath, ['--jitless', '--no-expose-wasm', loader], {
            env: { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' },
            encoding: 'utf8',
          });
          assert.equal(r.status, 3, `the exit status the code asked for: ${r.stderr}`);
          return r.stdout;
        };
        const caches = () => readdirSync(cacheDir).sort();
        assert.equal(run(), 'ran function');
        assert.deepEqual(caches(), [`cni-${sha}-VERSION.first.code-cache`]);
        assert.equal(run(), 'ran function');
        assert.deepEqual(caches(), [`cni-${sha}-VERSION.code-cache`]);
        // A rejected cache is written anew (a new file renamed over it): the same inode means V8 accepted it.
        const written = statSync(join(cacheDir, caches()[0]!)).ino;
        assert.equal(run(), 'ran function');
        assert.equal(statSync(join(cacheDir, caches()[0]!)).ino, written, 'the third run read the cache');
      },
    );
});

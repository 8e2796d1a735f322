import { en } from 'zod/locales';
import { config } from 'zod/mini';

/**
 * zod/mini, the functional build of zod 4 (the same core and issues as `zod`), with zod's English messages.
 * Import it as `import * as z from './zod.js'`: the CLI bundle then holds only the functions podnet calls
 * (~30 KB instead of zod's 290 KB), and a schema costs a few objects to build instead of some forty closures,
 * which a refused `lab up -f` pays on every start (docs/lab.md, "Start-up"). Never `import()` this module:
 * a dynamic import needs the whole namespace, and the bundle would keep all of zod again.
 */
config(en());

export * from 'zod/mini';

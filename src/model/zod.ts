import { en } from 'zod/locales';
import { config } from 'zod/mini';

/**
 * zod/mini, the functional build of zod 4, with zod's English messages: the agent's store records
 * (agent/store) and mini-schema.test.ts, which checks the cluster file's schemas' stand-in against it. Import it
 * as `import * as z from './zod.js'` (a bundle then holds only the functions called); never `import()` it: a
 * dynamic import needs the whole namespace, and the bundle would keep all of zod again.
 */
config(en());

export * from 'zod/mini';

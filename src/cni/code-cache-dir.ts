/**
 * Where the installed plugin keeps V8's code cache of itself (loader.ts) and its native netlink addon: tmpfs,
 * so each boot starts clean. `podnet cni install --code-cache-dir` picks another.
 */
export const CODE_CACHE_DIR = '/run/podnet/cni';

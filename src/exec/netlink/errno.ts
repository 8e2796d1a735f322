/** The errno values podnet tells apart (asm-generic/errno-base.h). */
export const ENOENT = 2;
export const ESRCH = 3;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;

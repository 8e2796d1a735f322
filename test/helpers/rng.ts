/** A seeded generator for random-change unit tests: rng(seed)(n) is an integer in [0, n), the same every run. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 4294967296) * n);
  };
}

export type Rng = ReturnType<typeof rng>;

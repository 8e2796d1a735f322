import { performance as perf } from 'node:perf_hooks';

/**
 * When each step of the agent's start-up ended, in ms since the process started (`performance.timeOrigin`):
 * Node's own bootstrap, the agent's entry (bundle loaded, flags parsed), then the steps the agent marks. Logged
 * with "agent started", so a join can be split into phases (bench/agent.ts reads them).
 */
export class StartupMarks {
  private readonly marks: [string, number][] = [
    ['boot', perf.nodeTiming.bootstrapComplete],
    ['entered', performance.now()],
  ];

  at(step: string): void {
    this.marks.push([step, performance.now()]);
  }

  /** Each step's end, ms since the process started, to 0.1 ms. */
  since(): Record<string, number> {
    return Object.fromEntries(this.marks.map(([k, v]) => [k, Math.round(v * 10) / 10]));
  }
}

import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Allocations } from '../model/resolve.js';
import type { SpecEdit } from './edits.js';

/** Root of all labs' state. /run: like the namespaces themselves, it does not outlive a reboot. */
export const stateRoot = (): string => process.env.PODNET_STATE_DIR ?? '/run/podnet/labs';

/** The lab's own record: written before anything is created, so `down` can always find what `up` made. */
export interface LabRecord {
  readonly name: string;
  readonly status: 'creating' | 'up';
  readonly createdAt: string;
  readonly specText?: string;
  readonly source: string;
  /** Command-line overrides that were applied to the spec. */
  readonly overrides?: Readonly<Record<string, string>>;
  /** Nodes and pods added or removed since `up` (lab node|pod add|remove), replayed over specText. */
  readonly edits?: readonly SpecEdit[];
}

/** One started process: PID plus its start time, so a recycled PID is never mistaken for ours. */
export interface PidRecord {
  readonly pid: number;
  readonly start: string;
  readonly pod: string;
  readonly role: string;
}

/** Files of one lab's state directory. */
export class LabState {
  readonly dir: string;

  constructor(readonly lab: string) {
    this.dir = join(stateRoot(), lab);
  }

  get exists(): boolean {
    return existsSync(this.dir);
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  create(): void {
    mkdirSync(stateRoot(), { recursive: true });
    mkdirSync(this.dir);
    mkdirSync(this.path('logs'));
  }

  writeJson(file: string, value: unknown): void {
    writeAtomic(this.path(file), `${JSON.stringify(value, null, 2)}\n`);
  }

  readJson<T>(file: string): T | undefined {
    try {
      return JSON.parse(readFileSync(this.path(file), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  removeFile(file: string): void {
    rmSync(this.path(file), { force: true });
  }

  get record(): LabRecord | undefined {
    return this.readJson<LabRecord>('lab.json');
  }

  get allocations(): Allocations | undefined {
    return this.readJson<Allocations>('allocations.json');
  }

  /** Appends to the PID journal (one line per process, flushed at once). */
  recordPid(r: PidRecord): void {
    appendFileSync(this.path('pids'), `${r.pid} ${r.start} ${r.pod} ${r.role}\n`);
  }

  pids(): PidRecord[] {
    let text = '';
    try {
      text = readFileSync(this.path('pids'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [pid, start, pod, role] = l.split(' ');
        return { pid: Number(pid), start: start ?? '', pod: pod ?? '', role: role ?? '' };
      })
      .filter((r) => Number.isInteger(r.pid) && r.pid > 1);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes a file so that readers see either the old or the new content, never half of it. */
export function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

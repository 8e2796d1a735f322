import {
  closeSync,
  constants,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Ip, nextFreeInRanges } from '../model/ipam.js';
import type { PodRange } from './config.js';
import { CNI_ERR, CniError } from './errors.js';
import { acquireLock, inProcess, lockBusy } from './ipam-lock.js';

/** Who holds an address: the attachment (container ID + interface) and, when the runtime said, the pod. */
export interface Reservation {
  readonly ip: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly podUid?: string;
}

const LAST = 'last_reserved_ip.0';

/** A range as people wrote it: `10.244.1.0/24`, or `10.244.1.10-10.244.1.20 of 10.244.1.0/24`. */
export const describeRange = (r: PodRange): string =>
  r.start || r.end
    ? `${r.start ?? r.subnet.network.add(1)}-${r.end ?? r.subnet.broadcast.add(-1)} of ${r.subnet}`
    : r.subnet.toString();
const TMP = '.tmp-';
const isIpName = (n: string) => /^\d+\.\d+\.\d+\.\d+$/.test(n);
/**
 * A reservation file's name (matched by isIpName, written by us) as a number: the store has one per pod, and
 * building an Ip for each on every ADD showed up in its timeline.
 */
function ipNumber(name: string): number {
  const [a, b, c, d] = name.split('.');
  return (Number(a) * 0x1000000 + Number(b) * 0x10000 + Number(c) * 0x100 + Number(d)) >>> 0;
}

/**
 * The on-disk IPAM store of one network (`<dataDir>/<network>/`), laid out like host-local's: one file per
 * reserved address, named by the address and holding its owner as JSON; `last_reserved_ip.0` for round-robin.
 *
 * Safety: allocation runs under a lock that the kernel releases when the holder dies, even by SIGKILL: an
 * abstract unix socket bound to a name derived from the store's path (see acquireLock). A reservation is written
 * to a temporary file first and then hard-linked to its address name, so a reservation file is either absent or
 * complete; temporary files left by a killed writer are removed by the next lock holder. Releasing is a single
 * unlink and needs no lock.
 */
export class IpamStore {
  /**
   * @param tryLock binds the lock's abstract socket in-process (the native addon's tryLock: returns an fd, or -1
   *   when taken); without it the lock is taken through Node's net module, which costs a few ms to load.
   */
  constructor(
    readonly dir: string,
    private readonly tryLock?: (name: string) => number,
  ) {}

  /** Runs `fn` while holding the store's lock; a lock still busy after `timeoutMs` is code 11. */
  async withLock<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
    this.ensureDir();
    // Callers in this process (the agent serves many requests at once) queue here first, in order, rather than
    // poll the kernel lock against each other; the kernel lock still excludes every other process.
    const queued = inProcess.get(this.dir);
    const before = queued ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(
      () =>
        new Promise<void>((r) => {
          done = r;
        }),
    );
    inProcess.set(this.dir, mine);
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    // Nobody ahead in this process (always so in a plugin process): no race, no timer.
    const waited =
      !queued ||
      (await Promise.race([
        queued.then(() => true),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), timeoutMs);
        }),
      ]));
    clearTimeout(timer);
    if (!waited) {
      void before.then(() => done()); // our turn passes to the next waiter untouched
      throw lockBusy(this.dir, timeoutMs);
    }
    try {
      const unlock = await acquireLock(
        this.dir,
        Math.max(0, timeoutMs - (Date.now() - started)),
        this.tryLock,
      );
      try {
        this.listing = this.removeTemporaries();
        return await fn();
      } finally {
        this.listing = undefined;
        await unlock();
      }
    } finally {
      done();
      if (inProcess.get(this.dir) === mine) inProcess.delete(this.dir);
    }
  }

  /**
   * The directory listing read when the lock was taken, while nothing has changed since (under the lock only we
   * write): allocation then reads the directory once, not twice. Every write below drops it.
   */
  private listing: string[] | undefined;

  ensureDir(): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new CniError(
        CNI_ERR.IO_FAILURE,
        `cannot create IPAM directory '${this.dir}': ${(e as Error).message}`,
        '',
        {
          cause: e,
        },
      );
    }
  }

  private names(): string[] {
    if (this.listing) return this.listing;
    try {
      return readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Addresses reserved now (names only: cheap). */
  usedIps(): Set<number> {
    const used = new Set<number>();
    for (const n of this.names()) if (isIpName(n)) used.add(ipNumber(n));
    return used;
  }

  /** Every reservation with its owner. A file that cannot be read is reported with an empty owner. */
  list(): Reservation[] {
    return this.names()
      .filter(isIpName)
      .map((n) => this.read(n) ?? { ip: n, containerId: '', ifname: '' });
  }

  read(ip: string): Reservation | undefined {
    try {
      const r = JSON.parse(readFileSync(join(this.dir, ip), 'utf8')) as Reservation;
      return { ...r, ip };
    } catch {
      return undefined;
    }
  }

  findByOwner(containerId: string, ifname: string): Reservation[] {
    return this.list().filter((r) => r.containerId === containerId && r.ifname === ifname);
  }

  /**
   * Allocates the next free address after the last one handed out (round-robin across the ranges, like
   * host-local: only inside each range's rangeStart..rangeEnd, never a gateway), records it, and returns it.
   * Must run under withLock.
   */
  allocate(ranges: readonly PodRange[], owner: Omit<Reservation, 'ip'>): { ip: Ip; range: PodRange } {
    const used = this.usedIps();
    const found = nextFreeInRanges(ranges, used, this.lastReserved());
    if (found) {
      const range = ranges[found.index]!;
      this.reserve({ ...owner, ip: found.ip.toString() });
      this.writeLast(found.ip.toString());
      return { ip: found.ip, range };
    }
    throw new CniError(
      CNI_ERR.RANGE_EXHAUSTED,
      `no free address in ${ranges.map(describeRange).join(', ')} (${used.size} reserved in '${this.dir}')`,
    );
  }

  /** Writes one reservation atomically; fails if the address is already taken. */
  reserve(r: Reservation): void {
    this.listing = undefined;
    const tmp = join(this.dir, `${TMP}${process.pid}-${r.ip}`);
    writeFileSync(tmp, JSON.stringify(r));
    try {
      linkSync(tmp, join(this.dir, r.ip));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        throw new CniError(CNI_ERR.TRY_AGAIN, `address ${r.ip} was reserved concurrently in '${this.dir}'`);
      throw e;
    } finally {
      unlinkSync(tmp);
    }
  }

  /** Removes the reservation of `ip`; true if there was one. */
  release(ip: string): boolean {
    this.listing = undefined;
    try {
      unlinkSync(join(this.dir, ip));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /**
   * Releases everything held by one attachment: the `hint` (the address from prevResult) first, then any other
   * reservation of the same owner (an ADD that was killed and retried without a DEL in between can leave two).
   */
  releaseByOwner(containerId: string, ifname: string, hint?: string): string[] {
    if (hint && isIpName(hint)) {
      const r = this.read(hint);
      if (r && r.containerId === containerId && r.ifname === ifname) {
        this.release(hint);
        const rest = this.findByOwner(containerId, ifname);
        for (const x of rest) this.release(x.ip);
        return [hint, ...rest.map((x) => x.ip)];
      }
    }
    const mine = this.findByOwner(containerId, ifname);
    for (const r of mine) this.release(r.ip);
    return mine.map((r) => r.ip);
  }

  /**
   * Records the address handed out last, overwriting in place at a fixed width (padded with spaces, read back
   * trimmed). Not truncating matters: on ext4, truncating a file that holds data and writing it again makes
   * close() wait for the data to be allocated (auto_da_alloc), 0.3–0.6 ms here against 0.01 ms. A torn write
   * only makes the next allocation start from the beginning of the range.
   */
  private writeLast(ip: string): void {
    this.listing = undefined;
    const fd = openSync(join(this.dir, LAST), constants.O_WRONLY | constants.O_CREAT, 0o600);
    try {
      writeSync(fd, ip.padEnd(15));
    } finally {
      closeSync(fd);
    }
  }

  lastReserved(): Ip | undefined {
    try {
      return Ip.tryParse(readFileSync(join(this.dir, LAST), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /** Under the lock no one else writes: any temporary file is a leftover of a killed writer. */
  /** Returns the names that remain. */
  private removeTemporaries(): string[] {
    const names = this.names();
    for (const n of names) if (n.startsWith(TMP)) unlinkSync(join(this.dir, n));
    return names.filter((n) => !n.startsWith(TMP));
  }
}

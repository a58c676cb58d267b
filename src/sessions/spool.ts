import { randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccountingEvent } from './event.js';

/**
 * The accounting spool: where Accounting-Requests go while the database is away or too slow.
 * A record is acknowledged to the NAS only once it is on disk (written, then fdatasync'd, one
 * sync per group of records), and replayed into the database later, in order.
 *
 * On disk: a folder of segment files, `acct-<ms>-<id>.spool`, one per spooling episode, each a
 * header line then one JSON line per record. Append-only; a crash can only leave a torn last
 * line, which was never acknowledged, and is cut off when the spool is opened again. How far a
 * segment has been replayed is kept in the database, in the transaction that applied those
 * records (sessions/replay.ts), so a record is applied once even across restarts.
 */

const MAGIC = 'ispkit-accounting-spool';
const VERSION = 1;
const READ_CHUNK = 1 << 20;

export interface SpooledRecord {
  /** When it was spooled (ms). */
  readonly t: number;
  readonly ev: AccountingEvent;
}

export interface Segment {
  readonly id: string;
  readonly path: string;
  /** Bytes durable on disk (the header included). */
  size: number;
  /** Records in the file. */
  records: number;
  /** When its first record was spooled (ms); undefined while empty. */
  firstAt: number | undefined;
  /** Still taking appends (the newest segment of this process). */
  active: boolean;
  /** Bytes of the header: the first record starts here. */
  readonly dataStart: number;
}

export interface SpoolStats {
  segments: number;
  /** Records on disk not yet known to be replayed. */
  pending: number;
  /** When the oldest pending record was spooled (ms), if any. */
  oldestAt: number | undefined;
  bytes: number;
  /** Records the database refused on replay, kept aside in rejected.jsonl. */
  rejected: number;
}

interface Pending {
  line: Buffer;
  t: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AccountingSpool {
  private readonly segments: Segment[] = [];
  private active: { segment: Segment; fh: FileHandle } | undefined;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  /** Records known replayed, per segment id (the replayer tells). */
  private readonly replayed = new Map<string, number>();
  private oldestPendingAt: number | undefined;
  private unsettled = 0;
  private looping = false;
  rejected = 0;

  private constructor(readonly dir: string) {}

  /** Opens (creating) the folder, reads what an earlier run left, cuts torn last lines. */
  static async open(dir: string): Promise<AccountingSpool> {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const spool = new AccountingSpool(dir);
    const names = (await readdir(dir)).filter((n) => /^acct-\d+-[0-9a-f-]+\.spool$/.test(n)).sort();
    for (const name of names) {
      const seg = await recover(join(dir, name));
      if (seg) spool.segments.push(seg);
    }
    spool.oldestPendingAt = spool.segments.find((s) => s.firstAt !== undefined)?.firstAt;
    try {
      const r = await readLines(join(dir, 'rejected.jsonl'), 0, Number.MAX_SAFE_INTEGER);
      spool.rejected = r.lines.length;
    } catch {
      // none yet
    }
    return spool;
  }

  /** The segments in replay order (oldest first). */
  list(): readonly Segment[] {
    return this.segments;
  }

  /** Records accepted by append() and not yet on disk (or failed). */
  get appending(): boolean {
    return this.unsettled > 0;
  }

  stats(): SpoolStats {
    let records = 0;
    let bytes = 0;
    for (const s of this.segments) {
      records += Math.max(0, s.records - (this.replayed.get(s.id) ?? 0));
      bytes += s.size;
    }
    return {
      segments: this.segments.length,
      pending: records,
      oldestAt: records > 0 ? this.oldestPendingAt : undefined,
      bytes,
      rejected: this.rejected,
    };
  }

  /** Resolves once the record is on disk (fdatasync'd); rejects when it could not be written. */
  append(ev: AccountingEvent, now = Date.now()): Promise<void> {
    return new Promise((resolve, reject) => {
      const line = Buffer.from(`${JSON.stringify({ t: now, ev })}\n`, 'utf8');
      this.unsettled++;
      this.queue.push({ line, t: now, resolve, reject });
      // Started again when the loop has left (not when its promise settles: a caller woken by
      // the last group may append before that, and would wait for nothing).
      if (!this.looping) {
        this.looping = true;
        this.writing = this.writeLoop();
      }
    });
  }

  /** Resolves when nothing waits to be written. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Reads up to `max` records of a segment from a byte offset (what replay applies next). */
  async read(
    seg: Segment,
    offset: number,
    max: number,
  ): Promise<{ records: SpooledRecord[]; ends: number[] }> {
    const from = Math.max(offset, seg.dataStart);
    const r = await readLines(seg.path, from, seg.size, max);
    const records = r.lines.map((l) => JSON.parse(l) as SpooledRecord);
    return { records, ends: r.ends };
  }

  /** The replayer applied records up to `records` of this segment (and `nextAt` is pending). */
  markReplayed(seg: Segment, records: number, nextAt: number | undefined): void {
    this.replayed.set(seg.id, records);
    if (nextAt !== undefined) this.oldestPendingAt = nextAt;
    else {
      const next = this.segments.find((s) => s !== seg && s.firstAt !== undefined);
      this.oldestPendingAt = next?.firstAt;
    }
  }

  /**
   * Removes a fully replayed segment. The active one only when nothing waits to be appended:
   * the next spooled record then starts a new segment.
   */
  async remove(seg: Segment): Promise<void> {
    if (seg.active) {
      if (this.appending) throw new Error('the active segment is still being written');
      const a = this.active;
      this.active = undefined;
      seg.active = false;
      await a?.fh.close();
    }
    const i = this.segments.indexOf(seg);
    if (i >= 0) this.segments.splice(i, 1);
    this.replayed.delete(seg.id);
    await unlink(seg.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    this.oldestPendingAt = this.segments.find((s) => s.firstAt !== undefined)?.firstAt;
  }

  /** Keeps a record the database refused, with why, and never replays it again. */
  async reject(rec: SpooledRecord, reason: string): Promise<void> {
    const fh = await open(join(this.dir, 'rejected.jsonl'), 'a', 0o640);
    try {
      await fh.write(`${JSON.stringify({ ...rec, rejected_at: Date.now(), reason })}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    this.rejected++;
  }

  async close(): Promise<void> {
    await this.settled();
    const a = this.active;
    this.active = undefined;
    if (a) a.segment.active = false;
    await a?.fh.close();
  }

  private async writeLoop(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        // In the same turn as the last resolve(): an append woken by it starts a new loop.
        this.looping = false;
        this.writing = undefined;
        return;
      }
      const group = this.queue.splice(0, 4096);
      try {
        const a = this.active ?? (await this.startSegment());
        const buf = Buffer.concat(group.map((p) => p.line));
        let written = 0;
        while (written < buf.length) {
          const { bytesWritten } = await a.fh.write(buf, written, buf.length - written);
          written += bytesWritten;
        }
        await a.fh.datasync();
        a.segment.size += buf.length;
        a.segment.records += group.length;
        a.segment.firstAt ??= group[0]?.t;
        this.oldestPendingAt ??= group[0]?.t;
        this.unsettled -= group.length;
        for (const p of group) p.resolve();
      } catch (e) {
        // The bytes may be half there: a later open cuts a torn line; start a new segment.
        const a = this.active;
        this.active = undefined;
        if (a) {
          a.segment.active = false;
          await a.fh.close().catch(() => undefined);
          // What is durable up to the last full line stays; recount it to be exact.
          const again = await recover(a.segment.path).catch(() => undefined);
          if (again) Object.assign(a.segment, { size: again.size, records: again.records });
        }
        this.unsettled -= group.length;
        for (const p of group) p.reject(e);
      }
    }
  }

  private async startSegment(): Promise<{ segment: Segment; fh: FileHandle }> {
    const id = randomUUID();
    const created = Date.now();
    const path = join(this.dir, `acct-${String(created).padStart(15, '0')}-${id}.spool`);
    const header = `${JSON.stringify({ spool: MAGIC, v: VERSION, id, created_at: created })}\n`;
    const fh = await open(path, 'wx', 0o640);
    await fh.write(header);
    await fh.datasync();
    // The new file's name must be durable too: sync the folder.
    const d = await open(this.dir, 'r');
    await d.sync().finally(() => d.close());
    const segment: Segment = {
      id,
      path,
      size: Buffer.byteLength(header),
      records: 0,
      firstAt: undefined,
      active: true,
      dataStart: Buffer.byteLength(header),
    };
    this.segments.push(segment);
    this.active = { segment, fh };
    return this.active;
  }
}

/**
 * Reads a segment left by an earlier run: checks the header, counts the records and cuts a
 * torn last line. A file that is not a spool segment is renamed `.bad` (kept, not replayed).
 */
async function recover(path: string): Promise<Segment | undefined> {
  const size = (await stat(path)).size;
  const all = await readLines(path, 0, size);
  const headerLine = all.lines[0];
  let header: { spool?: unknown; v?: unknown; id?: unknown } | undefined;
  try {
    header = headerLine === undefined ? undefined : (JSON.parse(headerLine) as typeof header);
  } catch {
    header = undefined;
  }
  if (header?.spool !== MAGIC || header.v !== VERSION || typeof header.id !== 'string') {
    await rename(path, `${path}.bad`);
    return undefined;
  }
  const dataStart = all.ends[0] as number;
  let good = dataStart;
  let records = 0;
  let firstAt: number | undefined;
  for (let i = 1; i < all.lines.length; i++) {
    let rec: SpooledRecord;
    try {
      rec = JSON.parse(all.lines[i] as string) as SpooledRecord;
    } catch {
      break; // a damaged line: nothing after it is trusted (append-only: it is the torn tail)
    }
    firstAt ??= rec.t;
    records++;
    good = all.ends[i] as number;
  }
  if (good < size) {
    const fh = await open(path, 'r+');
    try {
      await fh.truncate(good);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  return { id: header.id, path, size: good, records, firstAt, active: false, dataStart };
}

/**
 * Complete lines (ending in \n) of a file between two byte offsets, and the offset just after
 * each. A last line without its \n is not returned.
 */
async function readLines(
  path: string,
  from: number,
  to: number,
  max = Number.MAX_SAFE_INTEGER,
): Promise<{ lines: string[]; ends: number[] }> {
  const fh = await open(path, 'r');
  const lines: string[] = [];
  const ends: number[] = [];
  try {
    let pos = from;
    let carry = Buffer.alloc(0);
    let carryStart = from;
    while (pos < to && lines.length < max) {
      const len = Math.min(READ_CHUNK, to - pos);
      const chunk = Buffer.alloc(len);
      const { bytesRead } = await fh.read(chunk, 0, len, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk;
      const used = carry.length > 0 ? carry.length + bytesRead : bytesRead;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0 || nl >= used || lines.length >= max) break;
        lines.push(buf.toString('utf8', start, nl));
        ends.push(carryStart + nl + 1);
        start = nl + 1;
      }
      if (lines.length >= max) break;
      carry = Buffer.from(buf.subarray(start, used));
      carryStart += start;
    }
  } finally {
    await fh.close();
  }
  return { lines, ends };
}

/** A segment as `ispkit spool status` sees it (read only: never cuts or renames anything). */
export interface SegmentInfo {
  id: string;
  file: string;
  bytes: number;
  records: number;
  firstAt: number | undefined;
}

/**
 * Reads the spool folder without changing it (a running server may be appending): the segments,
 * their complete records, and how many records were set aside as rejected.
 */
export async function inspectSpool(
  dir: string,
): Promise<{ segments: SegmentInfo[]; rejected: number }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^acct-\d+-[0-9a-f-]+\.spool$/.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { segments: [], rejected: 0 };
    throw e;
  }
  const segments: SegmentInfo[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const { lines } = await readLines(path, 0, (await stat(path)).size);
    let id = '';
    try {
      id = String((JSON.parse(lines[0] ?? '') as { id?: unknown }).id ?? '');
    } catch {
      continue;
    }
    let firstAt: number | undefined;
    try {
      firstAt = lines[1] === undefined ? undefined : (JSON.parse(lines[1]) as SpooledRecord).t;
    } catch {
      firstAt = undefined;
    }
    segments.push({
      id,
      file: path,
      bytes: (await stat(path)).size,
      records: Math.max(0, lines.length - 1),
      firstAt,
    });
  }
  let rejected = 0;
  try {
    rejected = (await readLines(join(dir, 'rejected.jsonl'), 0, Number.MAX_SAFE_INTEGER)).lines
      .length;
  } catch {
    rejected = 0;
  }
  return { segments, rejected };
}

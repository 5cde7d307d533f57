import { type FileHandle, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UnavailableError } from '../../core/errors.js';

/**
 * An append-only JSON-lines journal on local disk, the storage of the embedded sequence and
 * idempotency stores. Records describe whole states (put/delete of one row), so replaying one twice
 * is harmless: that lets compaction snapshot the in-memory state while writes are still queued.
 *
 * - Writes are serialized through one in-process queue and group-committed: every record queued
 *   while a write + fdatasync is in flight goes out in the next single write + fdatasync.
 * - Replay at open applies every complete line; a torn tail (an unterminated or unparsable last
 *   stretch left by a crash) is ignored and cut off. An unparsable line followed by valid ones is
 *   corruption and fails the open.
 * - When the file outgrows `compactAfterBytes` (and twice its size after the last compaction), it is
 *   rewritten from a snapshot to a temp file, fsynced and renamed over the log.
 * - A failed write or fsync poisons the journal (memory may be ahead of disk): every later call
 *   rejects with UnavailableError until the store is reopened, which replays what is on disk.
 *
 * One process owns a file at a time.
 */
export interface JournalOptions<R> {
  file: string;
  /** Written in the header line; a file of another kind is refused. */
  kind: string;
  /** Dependency name in UnavailableError. */
  dependency: string;
  /** Applies one replayed record to the caller's state (throw to refuse a malformed one). */
  apply: (record: R) => void;
  /** Records that rebuild the whole current state (compaction). */
  snapshot: () => Iterable<R>;
  /** @default 64 MiB */
  compactAfterBytes?: number;
}

export interface Journal<R> {
  /** Queues records; resolves once they are durable. Records are applied to memory by the caller first. */
  write(records: R[]): Promise<void>;
  /** Resolves once everything queued so far is durable (at once when nothing is queued). */
  barrier(): Promise<void>;
  /** Throws the journal's failure (or that it is closed): call before changing memory for a write. */
  assertWritable(): void;
  /** Rewrites the file from a snapshot now (after the queued writes). */
  compact(): Promise<void>;
  /** Flushes what is queued and closes the file; later calls reject. */
  close(): Promise<void>;
  /** Current size of the file in bytes. */
  readonly size: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Header {
  journal: string;
  v: number;
}

const FORMAT_VERSION = 1;
const NEWLINE = 0x0a;

export async function openJournal<R>(options: JournalOptions<R>): Promise<Journal<R>> {
  const { file, kind, dependency, apply, snapshot, compactAfterBytes = 64 * 1024 * 1024 } = options;
  await mkdir(dirname(file), { recursive: true });
  const validBytes = await replay(file, kind, apply);

  let fh: FileHandle = await open(file, 'a');
  let size = validBytes;
  if ((await fh.stat()).size !== validBytes) await fh.truncate(validBytes);
  if (validBytes === 0) {
    size = await writeHeader(fh, kind);
    await syncDirectory(file);
  }
  let sizeAfterCompaction = size;

  let pending: string[] = [];
  let waiters: Waiter[] = [];
  let compactionWaiters: Waiter[] = [];
  let running = false;
  let failure: UnavailableError | null = null;
  let closed = false;

  const fail = (cause: unknown): UnavailableError => {
    failure ??= new UnavailableError(dependency, cause);
    return failure;
  };

  const shouldCompact = (): boolean => size >= compactAfterBytes && size >= 2 * sizeAfterCompaction;

  async function compactNow(): Promise<void> {
    const temp = `${file}.compact`;
    let out: FileHandle | null = await open(temp, 'w');
    try {
      let bytes = await writeHeader(out, kind);
      let chunk: string[] = [];
      let chunkLength = 0;
      // Materialized at once: writes queued meanwhile are appended after the snapshot (idempotent).
      for (const record of Array.from(snapshot())) {
        const line = `${JSON.stringify(record)}\n`;
        chunk.push(line);
        chunkLength += line.length;
        if (chunkLength >= 1 << 20) {
          bytes += await writeAll(out, chunk.join(''));
          chunk = [];
          chunkLength = 0;
        }
      }
      bytes += await writeAll(out, chunk.join(''));
      await out.datasync();
      await out.close();
      out = null;
      await rename(temp, file);
      size = bytes;
      sizeAfterCompaction = bytes;
    } catch (e) {
      await out?.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw e;
    }
    // From here on the log on disk is the new file: failing to reopen it is fatal.
    try {
      await syncDirectory(file);
      await fh.close();
      fh = await open(file, 'a');
    } catch (e) {
      throw fail(e);
    }
  }

  async function loop(): Promise<void> {
    while (!failure && (pending.length > 0 || waiters.length > 0 || compactionWaiters.length > 0)) {
      const lines = pending;
      const batch = waiters;
      pending = [];
      waiters = [];
      try {
        if (lines.length > 0) {
          size += await writeAll(fh, lines.join(''));
          await fh.datasync();
        }
      } catch (e) {
        const error = fail(e);
        for (const w of batch) w.reject(error);
        break;
      }
      for (const w of batch) w.resolve();

      const explicit = compactionWaiters;
      if (explicit.length > 0 || shouldCompact()) {
        compactionWaiters = [];
        try {
          await compactNow();
          for (const w of explicit) w.resolve();
        } catch (e) {
          // Before the rename a failed compaction leaves the old log intact: only report it.
          if (!explicit.length) sizeAfterCompaction = size;
          for (const w of explicit) w.reject(failure ?? e);
        }
      }
    }
    if (failure) {
      const error = failure;
      for (const w of [...waiters, ...compactionWaiters]) w.reject(error);
      waiters = [];
      compactionWaiters = [];
      pending = [];
    }
  }

  const kick = (): void => {
    if (running) return;
    running = true;
    void loop().finally(() => {
      running = false;
      if (!failure && (pending.length > 0 || waiters.length > 0 || compactionWaiters.length > 0)) kick();
    });
  };

  const unusable = (): UnavailableError | null =>
    failure ?? (closed ? new UnavailableError(dependency, new Error(`journal ${file} is closed`)) : null);

  const enqueue = (lines: string[], into: 'write' | 'compact'): Promise<void> => {
    const error = unusable();
    if (error) return Promise.reject(error);
    return new Promise<void>((resolve, reject) => {
      for (const line of lines) pending.push(line);
      (into === 'write' ? waiters : compactionWaiters).push({ resolve, reject });
      kick();
    });
  };

  return {
    write: (records) =>
      enqueue(
        records.map((r) => `${JSON.stringify(r)}\n`),
        'write',
      ),
    assertWritable: () => {
      const error = unusable();
      if (error) throw error;
    },
    barrier: () => {
      const error = unusable();
      if (error) return Promise.reject(error);
      if (!running && pending.length === 0) return Promise.resolve();
      return enqueue([], 'write');
    },
    compact: () => enqueue([], 'compact'),
    close: async () => {
      if (closed) return;
      const drained = running || pending.length > 0 ? enqueue([], 'write').catch(() => undefined) : undefined;
      closed = true;
      await drained;
      await fh.close();
    },
    get size() {
      return size;
    },
  };
}

/** Applies every complete record of the file; returns the length of its valid prefix. */
async function replay<R>(file: string, kind: string, apply: (record: R) => void): Promise<number> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let position = 0;
  let lineNumber = 0;
  let tornAt: number | null = null;
  while (position < data.length) {
    const end = data.indexOf(NEWLINE, position);
    if (end < 0) break; // unterminated tail: never acknowledged
    lineNumber++;
    const parsed = parseLine(data.toString('utf8', position, end));
    if (parsed === undefined) {
      tornAt ??= position;
    } else if (tornAt !== null) {
      throw new Error(`${file}: line ${lineNumber} follows an unreadable line; the journal is corrupt`);
    } else if (lineNumber === 1 && isHeader(parsed)) {
      if (parsed.journal !== kind || parsed.v !== FORMAT_VERSION) {
        throw new Error(`${file} is a ${parsed.journal} journal v${parsed.v}, expected ${kind} v${FORMAT_VERSION}`);
      }
    } else {
      apply(parsed as R);
    }
    position = end + 1;
  }
  return tornAt ?? position;
}

function parseLine(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isHeader(value: unknown): value is Header {
  return typeof value === 'object' && value !== null && 'journal' in value && 'v' in value;
}

async function writeHeader(fh: FileHandle, kind: string): Promise<number> {
  const header: Header = { journal: kind, v: FORMAT_VERSION };
  const bytes = await writeAll(fh, `${JSON.stringify(header)}\n`);
  await fh.datasync();
  return bytes;
}

async function writeAll(fh: FileHandle, text: string): Promise<number> {
  const buffer = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await fh.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
  return buffer.length;
}

async function syncDirectory(file: string): Promise<void> {
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

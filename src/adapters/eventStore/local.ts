import { randomBytes } from 'node:crypto';
import { constants, type Dirent, readdirSync, readFile as readFileCallback, readFileSync, statSync } from 'node:fs';
import { access, type FileHandle, link, mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { mapLimit } from '../../app/concurrency.js';
import { type Commit, parseCommit, serializeCommit } from '../../core/envelope.js';
import { EventAlreadyExistsError, isCairnError, UnavailableError } from '../../core/errors.js';
import {
  aggregatePrefix,
  announceEntry,
  assertSafeKeyPart,
  assertValidCommit,
  assertValidRef,
  COMMIT_FILE,
  checkpointKey,
  commitKey,
  EVENTS_PREFIX,
  type EventStore,
  type EventStoreHooks,
  GROUP_ENTRY_FILE,
  indexRefOf,
  MARKER_FILE,
  outboxEntryOf,
  padSeq,
  parseIndexKey,
  refsOfEntry,
  UNPUBLISHED_PREFIX,
  type UnpublishedRef,
  unpublishedKey,
} from '../../ports/eventStore.js';
import { parseGroupEntry } from './commitCopies.js';

/** Outbox entries: markers (written by this store) and group entries. */
const OUTBOX_FILE = { test: (name: string) => MARKER_FILE.test(name) || GROUP_ENTRY_FILE.test(name) };

/**
 * A whole file as text, through the callback API: fs/promises' readFile opens a FileHandle and reads
 * in steps, each a promise; a rebuild reads every commit file this way (53,333 files here: 1,600 ms
 * with fs/promises, 650 ms with this).
 */
const readTextCallback = promisify(readFileCallback) as (path: string, encoding: 'utf8') => Promise<string>;
const readText = (path: string): Promise<string> => readTextCallback(path, 'utf8');

export interface LocalEventStoreOptions extends EventStoreHooks {
  /** Root directory; created on first write. Holds the same keys as the bucket, as nested folders. */
  dir: string;
  /** Files read in parallel by readAggregate, readCommits and scan. @default 32 */
  concurrency?: number;
  /** Temp files older than this are leftovers of a crash and are swept at first write. @default 600_000 */
  staleTempMs?: number;
}

const TMP = '.tmp';
const DEPENDENCY = 'filesystem';

const errno = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

/** Port errors and programming errors pass through; storage failures become UnavailableError. */
const translate = (e: unknown): unknown =>
  isCairnError(e) || errno(e) === undefined ? e : new UnavailableError(DEPENDENCY, e);

/**
 * The embedded event store: the bucket's key layout in a local directory.
 *
 * Create-if-absent is atomic and crash safe: a commit is written to `.tmp/`, fsynced, then
 * hard-linked to its key (`link` fails with EEXIST if the key exists, so two writers can never both
 * win) and the key's folder is fsynced before the append resolves. A torn write stays in `.tmp/`,
 * which no listing ever visits. The outbox marker (an empty file) is made durable before the commit
 * is linked, so a crash can leave a marker without its commit (the relay skips it) but never an
 * acknowledged or visible commit without its marker. (The S3 store writes group entries after the
 * commits instead, to save requests; a local file costs microseconds, so this store keeps the order
 * that needs no repair. It reads group entries too.)
 */
export function createLocalEventStore(options: LocalEventStoreOptions): EventStore {
  const root = resolve(options.dir);
  const concurrency = options.concurrency ?? 32;
  const staleTempMs = options.staleTempMs ?? 600_000;
  const tmpDir = join(root, TMP);
  const abs = (key: string): string => join(root, key);
  const run = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpName = (() => {
    let n = 0;
    return (): string => join(tmpDir, `${run}-${++n}`);
  })();

  // Folders known to exist and be durable; an entry is a promise so concurrent creators share it.
  const dirs = new Map<string, Promise<void>>();

  const fsyncDir = async (dir: string): Promise<void> => {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  };

  const createDir = async (dir: string): Promise<void> => {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    // Each new folder's entry lives in its parent: fsync every parent from `first`'s down to `dir`'s.
    const parents: string[] = [];
    for (let d = dir; d.length >= first.length; d = dirname(d)) parents.push(dirname(d));
    await Promise.all(parents.map(fsyncDir));
  };

  const ensureDir = (dir: string): Promise<void> => {
    let done = dirs.get(dir);
    if (!done) {
      done = createDir(dir);
      dirs.set(dir, done);
      done.catch(() => dirs.delete(dir));
    }
    return done;
  };

  /** Runs `write` in `dir`, recreating the folder if a concurrent markPublished removed it. */
  const inDir = async <T>(dir: string, write: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      await ensureDir(dir);
      try {
        return await write();
      } catch (e) {
        if (errno(e) !== 'ENOENT' || attempt >= 5) throw e;
        dirs.delete(dir);
      }
    }
  };

  let swept = false;
  const sweepStaleTemps = async (): Promise<void> => {
    const cutoff = Date.now() - staleTempMs;
    for (const name of await readdir(tmpDir)) {
      // Our own temps belong to appends in flight: only a dead writer's leftovers are swept.
      if (name.startsWith(`${run}-`)) continue;
      const p = join(tmpDir, name);
      if ((await stat(p)).mtimeMs < cutoff) await unlink(p);
    }
  };

  const withFile = async <T>(path: string, flags: string, use: (fh: FileHandle) => Promise<T>): Promise<T> => {
    const fh = await open(path, flags);
    try {
      return await use(fh);
    } finally {
      await fh.close();
    }
  };

  /** Writes `data` to a fresh temp file and makes its bytes durable. */
  const writeTemp = async (data: string): Promise<string> => {
    await ensureDir(tmpDir);
    if (!swept) {
      swept = true;
      void sweepStaleTemps().catch(() => undefined);
    }
    const tmp = tmpName();
    await withFile(tmp, 'wx', async (fh) => {
      await fh.writeFile(data);
      await fh.datasync();
    });
    return tmp;
  };

  const writeMarker = async (c: Commit): Promise<void> => {
    const path = abs(unpublishedKey(indexRefOf(c)));
    await inDir(dirname(path), () => withFile(path, 'w', async () => undefined));
    await fsyncDir(dirname(path));
  };

  const writeCommit = async (c: Commit, tmp: string, data: string): Promise<void> => {
    const path = abs(commitKey(c));
    try {
      await inDir(dirname(path), () => link(tmp, path));
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      // The very same bytes are a retry of this append (it may have crashed before answering):
      // success. Anything else is another commit at this position.
      if ((await readOptional(path)) !== data) throw new EventAlreadyExistsError(c.aggregateId, c.seq);
    }
    await fsyncDir(dirname(path));
  };

  const readOptional = async (path: string): Promise<string | null> => {
    try {
      return await readText(path);
    } catch (e) {
      if (errno(e) === 'ENOENT') return null;
      throw e;
    }
  };

  const absentDir = (e: unknown): boolean => errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR';

  const readNames = async (dir: string): Promise<string[]> => {
    try {
      return await readdir(dir);
    } catch (e) {
      if (absentDir(e)) return [];
      throw e;
    }
  };

  type DirEntry = { name: string; key: string; isDir: boolean };
  /** A folder's entries in the order of their full keys (S3 order: a folder's keys continue with '/'). */
  const inKeyOrder = (entries: { name: string; isDir: boolean }[]): DirEntry[] =>
    entries
      .map(({ name, isDir }) => ({ name, key: isDir ? `${name}/` : name, isDir }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const listDir = async (dir: string): Promise<DirEntry[]> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (absentDir(e)) return [];
      throw e;
    }
    const isDir = async (e: Dirent) =>
      e.isDirectory() || (!e.isFile() && (await stat(join(dir, e.name))).isDirectory());
    return inKeyOrder(await Promise.all(entries.map(async (e) => ({ name: e.name, isDir: await isDir(e) }))));
  };

  /** listDir, synchronously (see walkNow). */
  const listDirNow = (dir: string): DirEntry[] => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (absentDir(e)) return [];
      throw e;
    }
    const isDir = (e: Dirent) => e.isDirectory() || (!e.isFile() && statSync(join(dir, e.name)).isDirectory());
    return inKeyOrder(entries.map((e) => ({ name: e.name, isDir: isDir(e) })));
  };

  /**
   * Keys under `prefix` (ending in '/') whose file name matches `file`, in key order, lazily; with
   * `after`, only keys sorting after it (a folder wholly before it is not opened).
   */
  async function* walk(prefix: string, file: { test(name: string): boolean }, after?: string): AsyncGenerator<string> {
    for (const e of await listDir(abs(prefix))) {
      const key = prefix + e.key;
      if (e.isDir) {
        if (after === undefined || key > after || after.startsWith(key)) yield* walk(key, file, after);
      } else if (file.test(e.name) && (after === undefined || key > after)) yield key;
    }
  }

  /**
   * walk, synchronously, for a scan (see readKeysNow): an asynchronous walk waited on libuv's
   * threads for each aggregate's folder, one after another.
   */
  function* walkNow(prefix: string, file: { test(name: string): boolean }): Generator<string> {
    for (const e of listDirNow(abs(prefix))) {
      const key = prefix + e.key;
      if (e.isDir) yield* walkNow(key, file);
      else if (file.test(e.name)) yield key;
    }
  }

  const readKeys = (keys: string[]): Promise<Commit[]> =>
    mapLimit(keys, concurrency, async (key) => parseCommit(await readText(abs(key))));

  /**
   * A scan's page, read synchronously: a scan reads every commit file (a rebuild at start, before
   * serving, or the CLI's rebuild and check), and each asynchronous read is four trips through libuv's four threads (open, stat,
   * read, close), which left the rebuild waiting on them. A page blocks the loop ~6 µs per file.
   */
  const readKeysNow = (keys: string[]): Commit[] => keys.map((key) => parseCommit(readFileSync(abs(key), 'utf8')));

  const pruneEmptyMarkerDirs = async (entries: string[]): Promise<void> => {
    const stop = abs(UNPUBLISHED_PREFIX);
    const leaves = [...new Set(entries.map((entry) => dirname(abs(entry))))];
    await Promise.all(
      leaves.map(async (leaf) => {
        for (let d = leaf; d.startsWith(stop) && d.length > stop.length; d = dirname(d)) {
          dirs.delete(d);
          try {
            await rmdir(d);
          } catch {
            return; // not empty (or already gone): its parents are not empty either
          }
        }
      }),
    );
  };

  const store: EventStore = {
    // Commit and marker are durable together here: nothing is left to index afterwards.
    async appendCommit(commit) {
      await store.append(commit);
      return { indexed: Promise.resolve() };
    },

    async append(commit) {
      assertValidCommit(commit);
      try {
        const data = serializeCommit(commit);
        const [tmp] = await Promise.all([writeTemp(data), writeMarker(commit)]);
        try {
          await writeCommit(commit, tmp, data);
        } finally {
          await unlink(tmp).catch(() => undefined);
        }
      } catch (e) {
        throw translate(e);
      }
      announceEntry(options, { entry: unpublishedKey(indexRefOf(commit)), commits: [commit], size: 1 });
    },

    async readAggregate(ref, afterSeq = 0, limit = Number.POSITIVE_INFINITY) {
      assertSafeKeyPart('aggregate id', ref.aggregateId);
      const after = `${padSeq(afterSeq)}.jsonl`;
      try {
        const keys = (await readNames(abs(aggregatePrefix(ref))))
          .filter((name) => COMMIT_FILE.test(name) && name > after)
          .sort()
          .slice(0, limit)
          .map((name) => aggregatePrefix(ref) + name);
        return await readKeys(keys);
      } catch (e) {
        throw translate(e);
      }
    },

    async readCommits(refs) {
      refs.forEach(assertValidRef);
      try {
        return await mapLimit(refs, concurrency, async (r) => {
          const text = await readOptional(abs(commitKey(r)));
          return text === null ? null : parseCommit(text);
        });
      } catch (e) {
        throw translate(e);
      }
    },

    async listUnpublished(limit, { after } = {}) {
      const refs: UnpublishedRef[] = [];
      if (limit <= 0) return refs;
      try {
        for await (const entry of walk(UNPUBLISHED_PREFIX, OUTBOX_FILE, after)) {
          const marker = parseIndexKey(entry);
          if (marker) refs.push({ ...marker, entry });
          else {
            // A group entry (this store writes markers; a copied bucket may hold groups).
            const text = await readOptional(abs(entry));
            if (text !== null) refs.push(...refsOfEntry(entry, parseGroupEntry(entry, text)));
          }
          if (refs.length >= limit) break;
        }
        return refs;
      } catch (e) {
        throw translate(e);
      }
    },

    async markPublished(refs) {
      refs.forEach(assertValidRef);
      const entries = [...new Set(refs.map(outboxEntryOf))];
      try {
        await mapLimit(entries, concurrency, (entry) =>
          unlink(abs(entry)).catch((e: unknown) => {
            if (errno(e) !== 'ENOENT') throw e;
          }),
        );
        await pruneEmptyMarkerDirs(entries);
      } catch (e) {
        throw translate(e);
      }
    },

    async *scan(scanOptions = {}) {
      const { aggregateType, pageSize = 100 } = scanOptions;
      const prefix = aggregateType === undefined ? EVENTS_PREFIX : `${EVENTS_PREFIX}${aggregateType}/`;
      let page: string[] = [];
      try {
        for (const key of walkNow(prefix, COMMIT_FILE)) {
          page.push(key);
          if (page.length >= pageSize) {
            yield* readKeysNow(page);
            page = [];
          }
        }
        yield* readKeysNow(page);
      } catch (e) {
        throw translate(e);
      }
    },

    async getCheckpoint<T>(name: string): Promise<T | null> {
      assertSafeKeyPart('checkpoint name', name);
      try {
        const text = await readOptional(abs(checkpointKey(name)));
        return text === null ? null : (JSON.parse(text) as T);
      } catch (e) {
        throw translate(e);
      }
    },

    async putCheckpoint<T>(name: string, value: T): Promise<void> {
      assertSafeKeyPart('checkpoint name', name);
      const path = abs(checkpointKey(name));
      try {
        const tmp = await writeTemp(JSON.stringify(value));
        try {
          await inDir(dirname(path), () => rename(tmp, path));
        } catch (e) {
          await unlink(tmp).catch(() => undefined);
          throw e;
        }
        await fsyncDir(dirname(path));
      } catch (e) {
        throw translate(e);
      }
    },

    async ping() {
      try {
        await ensureDir(tmpDir);
        await access(tmpDir, constants.W_OK);
      } catch (e) {
        throw new UnavailableError(DEPENDENCY, e);
      }
    },
  };
  return store;
}

import { Lru } from '../src/app/lru.js';
import { aggregateKey } from '../src/core/aggregate.js';
import { type Commit, serializeEnvelope } from '../src/core/envelope.js';
import type { Logger } from '../src/observability/logger.js';
import { type Metrics, secondsSince } from '../src/observability/metrics.js';
import {
  type CommitRef,
  type EventStore,
  type IndexRef,
  plainIndexRef,
  refsOfEntry,
  type UnpublishedRef,
  type WrittenEntry,
} from '../src/ports/eventStore.js';
import type { Transport, TransportMessage } from '../src/ports/transport.js';

/**
 * The relay: tails the event store's by-date index (`indexes/by-date/`), publishes the commits it
 * lists, oldest first, to the transport, then removes their entries; its checkpoint in the bucket
 * records the last published position and count. At-least-once: a crash between publish and entry
 * removal publishes again, and the projector's registry makes that harmless. Because the index holds
 * every unpublished commit whatever its date, a late or clock-skewed write cannot be skipped.
 *
 * Through a backlog the next page is listed (after the last entry of this one) while this one is
 * published, and a chunk's entries are removed while the next chunk is published; every MAX_PAGES
 * pages the listing starts from the beginning again, where entries written behind the pages wait.
 *
 * Fast path: commits offered by the process that writes them (AppendSignal), as soon as they are
 * durable, are published without listing or reading the outbox; their entry is removed once this
 * relay has published as many of its commits as the entry's size says (an entry is offered whole,
 * or in parts while its writer gathers it, then closed with its size). Listing stays the truth: it
 * still runs every poll interval (and on a plain wake, and until a backlog is drained), so a lost
 * or refused offer only waits. A listing publishes only the commits of an entry this relay has not
 * published (an entry offered before it landed, so removed too early, or whose removal failed, or
 * whose last part was lost), then removes it.
 */
export interface Relay {
  start(): void;
  /** Wakes the relay now to list the outbox (something was appended). */
  wake(): void;
  /** Hands over durable commits of an outbox entry (whole, a part, or its size), to be published without listing (best effort). */
  offer(entry: WrittenEntry): void;
  /** Publishes everything currently in the outbox; resolves when done (tests, shutdown). */
  drain(): Promise<void>;
  stop(): Promise<void>;
  status(): { running: boolean; lastError: string | null; publishedTotal: number; backlog: number };
}

/** Relay batches listed per page, so that reading one overlaps publishing the one before. */
const READ_AHEAD = 4;
/**
 * Pages listed one after the other through a backlog before the outbox is listed from its beginning
 * again (where an entry written behind the pages, late or clock-skewed, waits until then).
 */
const MAX_PAGES = 16;
/** Offered entries held at most; beyond, an offer is refused and the next listing finds the entry. */
const MAX_OFFERED = 10_000;
/** Entries whose publication is remembered: neither a late offer nor a later listing publishes their commits again. */
const HANDLED_MEMORY = 10_000;
/**
 * Offered entries are removed from the outbox in batches (one DeleteObjects per batch instead of one
 * per entry: MinIO spends ~1.1 ms of CPU on a 1-key request, ~0.23 ms per key in a 50-key one), at
 * most this long after publishing, and always before the outbox is listed again. An entry left
 * behind (the relay stopped before removing it) is only published once more, which the projector's
 * registry makes harmless; so the delay is long enough to gather a batch at a few mutations a second.
 */
const REMOVAL_DELAY_MS = 500;
const REMOVAL_BATCH = 200;

/** What this relay published of one outbox entry. */
interface EntryProgress {
  /** Its commits published (refId). */
  published: Set<string>;
  /** A published ref of it: what markPublished is given to remove it. */
  someRef?: UnpublishedRef;
  /** How many commits it holds, once announced or listed. */
  size?: number;
  /** Its removal is asked for (or done by the listing that found it). */
  removing: boolean;
}

const refId = (r: CommitRef): string => `${aggregateKey(r)}@${r.seq}`;

export interface RelayCheckpoint {
  publishedTotal: number;
  lastPublishedAt: string | null;
  lastRef: CommitRef | null;
}

export function createRelay(deps: {
  eventStore: EventStore;
  transport: Transport;
  logger: Logger;
  metrics?: Metrics;
  options: {
    batchSize: number;
    pollIntervalMs: number;
    missingCommitGraceMs?: number;
    /** Commits per segment. @default 500 */
    segmentSize?: number;
    /** A published commit waits at most about this long for its segment (a quiet relay writes a short one). @default 5000 */
    segmentMaxAgeMs?: number;
  };
}): Relay {
  const { eventStore, transport, logger, metrics, options } = deps;
  const graceMs = options.missingCommitGraceMs ?? 30_000;
  const segmentSize = options.segmentSize ?? 500;
  const segmentMaxAgeMs = options.segmentMaxAgeMs ?? 5_000;
  /** Published commits not yet copied into a segment (see EventStore.writeSegment), since when. */
  let unsegmented: Commit[] = [];
  let unsegmentedSince = 0;
  /** Markers whose commit is not (yet) readable: first seen at. */
  const missingSince = new Map<string, number>();
  let running = false;
  let stopping = false;
  let loop: Promise<void> | null = null;
  let wakeUp: (() => void) | null = null;
  let woken = false;
  let lastError: string | null = null;
  let backlog = 0;
  let checkpoint: RelayCheckpoint = { publishedTotal: 0, lastPublishedAt: null, lastRef: null };
  let checkpointLoaded = false;
  let lastCheckpointWrite = 0;
  /** Checkpoint writes, one after the other (an older one never lands last). */
  let checkpointSaving: Promise<void> = Promise.resolve();
  /** Offered entries not yet published, in the order offered (entry key → its refs). */
  const offered = new Map<string, UnpublishedRef[]>();
  const progress = new Lru<string, EntryProgress>(HANDLED_MEMORY);
  let listWanted = true;
  let lastListAt = 0;
  /** Published offered entries not yet removed from the outbox, and the removal under way. */
  let toRemove: UnpublishedRef[] = [];
  let removing: Promise<void> = Promise.resolve();
  let removalTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * One listing from the beginning of the outbox, publishing up to READ_AHEAD × batchSize refs; while
   * listings come back full (a backlog), the next page is listed after the last entry of the one
   * being published, up to MAX_PAGES pages. Returns how many refs it handled.
   */
  async function publishBatch(): Promise<number> {
    // Entries published but not removed yet would be listed again (and published again once forgotten).
    await flushRemovals();
    lastListAt = Date.now();
    const limit = options.batchSize * READ_AHEAD;
    // Shared by the pages: a commit held back keeps its aggregate's later commits back on later pages too.
    const blocked = new Set<string>();
    let handled = 0;
    let listing: Promise<UnpublishedRef[]> | null = listPage(limit);
    for (let page = 1; listing; page++) {
      const refs: UnpublishedRef[] = await listing;
      const full = refs.length >= limit;
      listing = full && page < MAX_PAGES && !stopping ? listPage(limit, refs[refs.length - 1]!.entry) : null;
      // Handled in case publishing this page fails first (the pass is then retried from the beginning).
      listing?.catch(() => undefined);
      // A full last page means more backlog: list again at once. Otherwise what was written since is offered.
      if (full && !listing) listWanted = true;
      handled += await publishEntries(entriesOf(refs), 'listing', blocked);
    }
    return handled;
  }

  async function listPage(limit: number, after?: string): Promise<UnpublishedRef[]> {
    const refs = await eventStore.listUnpublished(limit, { after });
    metrics?.relayListings.inc();
    backlog = refs.length;
    metrics?.relayBacklog.set(refs.length);
    return refs;
  }

  /** One pass over offered entries: publishes up to about READ_AHEAD × batchSize refs, in the order offered. */
  async function publishOffered(): Promise<number> {
    const entries: UnpublishedRef[][] = [];
    let count = 0;
    for (const [entry, refs] of offered) {
      if (count >= options.batchSize * READ_AHEAD) break;
      offered.delete(entry);
      entries.push(refs);
      count += refs.length;
    }
    metrics?.relayBacklog.set(offered.size);
    return publishEntries(entries, 'offer');
  }

  const isPublished = (r: UnpublishedRef): boolean => progress.get(r.entry)?.published.has(refId(r)) === true;

  function progressOf(entry: string): EntryProgress {
    let p = progress.get(entry);
    if (!p) {
      p = { published: new Set(), removing: false };
      progress.set(entry, p);
    }
    return p;
  }

  /** Removes an offered entry once this relay published every commit it holds (its size is known). */
  function removeWhenComplete(entry: string): void {
    const p = progress.get(entry);
    if (!p?.someRef || p.removing || p.size === undefined || p.published.size < p.size) return;
    p.removing = true;
    removeLater([p.someRef]);
  }

  /** Removes the published offered entries from the outbox now (after any removal under way). */
  function flushRemovals(): Promise<void> {
    if (removalTimer) clearTimeout(removalTimer);
    removalTimer = null;
    const refs = toRemove;
    toRemove = [];
    removing = removing.then(async () => {
      if (refs.length === 0) return;
      // A failure leaves the entries in the outbox: a later listing removes them (or publishes them once
      // more, at least once, if this relay forgot them), never lost.
      await eventStore.markPublished(refs).catch((e: unknown) => {
        logger.warn('relay could not remove published outbox entries; a later listing removes them', { error: e });
      });
    });
    return removing;
  }

  function removeLater(refs: UnpublishedRef[]): void {
    toRemove.push(...refs);
    if (toRemove.length >= REMOVAL_BATCH) void flushRemovals();
    else removalTimer ??= setTimeout(() => void flushRemovals(), REMOVAL_DELAY_MS);
  }

  /** Publishes entries chunk by chunk; returns how many refs it handled. */
  async function publishEntries(
    entries: UnpublishedRef[][],
    via: 'offer' | 'listing',
    blocked = new Set<string>(),
  ): Promise<number> {
    if (!checkpointLoaded) {
      checkpoint = (await eventStore.getCheckpoint<RelayCheckpoint>('relay')) ?? checkpoint;
      checkpointLoaded = true;
    }
    const chunks = chunksOf(entries, options.batchSize);
    // Chunks are published in order, one after the other (per-aggregate order). The commits the next
    // chunk's entries do not carry are read, and the previous chunk's entries removed, while this one
    // is published.
    let handled = 0;
    let reading = chunks.length > 0 ? readChunk(chunks[0]!) : null;
    let cleaning: Promise<void> = Promise.resolve();
    try {
      for (let i = 0; reading; i++) {
        const commits = await reading;
        reading = i + 1 < chunks.length ? readChunk(chunks[i + 1]!) : null;
        // Handled in case publishing this chunk fails first (the pass is then retried as a whole).
        reading?.catch(() => undefined);
        const chunk = await publishChunk(chunks[i]!, commits, blocked, via);
        await cleaning;
        cleaning = chunk.cleanUp;
        handled += chunk.handled;
      }
    } catch (e) {
      // Never left running: the listing that retries the pass must not find these entries half removed.
      await cleaning.catch(() => undefined);
      throw e;
    }
    await cleaning;
    return handled;
  }

  /** The commits of a chunk's entries, per entry: carried by a group entry, or read by key for a marker. */
  async function readChunk(entries: UnpublishedRef[][]): Promise<(Commit | null)[][]> {
    // A marker of a commit this relay published already is only removed (publishChunk): not read.
    const toRead = entries.flat().filter((r) => !r.commit && !isPublished(r));
    const read = toRead.length > 0 ? await eventStore.readCommits(toRead) : [];
    const byRef = new Map(toRead.map((r, i) => [r, read[i] ?? null]));
    return entries.map((refs) => refs.map((r) => r.commit ?? byRef.get(r) ?? null));
  }

  /**
   * Publishes one chunk of entries; returns how many refs it handled and its clean-up under way
   * (removing the entries, a segment, the checkpoint), which the next chunk's publication overlaps.
   */
  async function publishChunk(
    entries: UnpublishedRef[][],
    commits: (Commit | null)[][],
    blocked: Set<string>,
    via: 'offer' | 'listing',
  ): Promise<{ handled: number; cleanUp: Promise<void> }> {
    const ready: UnpublishedRef[] = [];
    const messages: TransportMessage[] = [];
    const dropped: UnpublishedRef[] = [];
    const published: Commit[] = [];
    /** Listed entries this relay published already (removed before they landed, or whose removal failed): only removed. */
    const handledBefore: UnpublishedRef[] = [];
    entries.forEach((all, i) => {
      // Only what this relay has not published (an entry offered in parts, then listed, holds both).
      const fresh = all.flatMap((r, j) => (isPublished(r) ? [] : [j]));
      if (fresh.length === 0) {
        if (via === 'listing') handledBefore.push(...all);
        return;
      }
      const refs = fresh.length === all.length ? all : fresh.map((j) => all[j]!);
      const keys = refs.map(aggregateKey);
      // Keep per-aggregate order behind a commit not yet readable; an entry goes whole or waits whole.
      if (keys.some((key) => blocked.has(key))) {
        for (const key of keys) blocked.add(key);
        return;
      }
      const found = fresh.length === all.length ? commits[i]! : fresh.map((j) => commits[i]![j]!);
      const missing = refs.filter((_, j) => !found[j]);
      if (missing.length > 0) {
        // Only a marker names a commit that may not have landed (a group entry carries its commits).
        if (missing.every((ref) => expired(ref))) dropped.push(...refs);
        else for (const key of keys) blocked.add(key);
        return;
      }
      ready.push(...refs);
      for (const commit of found as Commit[]) {
        published.push(commit);
        const key = aggregateKey(commit);
        for (const envelope of commit.envelopes) {
          messages.push({ key, value: serializeEnvelope(envelope), kind: envelope.kind });
        }
      }
    });
    if (messages.length > 0) {
      await transport.publish(messages);
      // Measured at publication (the stage's end), before the outbox clean-up, which consumers never wait on.
      const now = Date.now();
      for (const c of published) metrics?.relayLag.observe(secondsSince(c.envelopes[0]!.occurredAt, now));
      metrics?.relayPublished.inc(messages.length);
      metrics?.relayLastPublish.set(now / 1000);
    }
    if (unsegmented.length === 0) unsegmentedSince = Date.now();
    unsegmented.push(...published);
    // Remembered, so not published again from an offer (one that arrives later included) or a
    // listing. An entry held back (its commit not readable yet) stays offerable: its offer carries the commit.
    for (const ref of [...ready, ...dropped]) {
      const p = progressOf(ref.entry);
      p.published.add(refId(ref));
      p.someRef ??= ref;
    }
    if (via === 'listing') {
      // A listed entry is whole: what an offer still holds of it was just published, and the listing removes it.
      for (const refs of entries) {
        if (!refs.every((r) => isPublished(r))) continue;
        offered.delete(refs[0]!.entry);
        const p = progressOf(refs[0]!.entry);
        p.size = refs.length;
        p.removing = true;
      }
    } else {
      // Offered entries come one or two at a time: removed in batches. A listing's chunk is one already.
      for (const entry of new Set([...ready, ...dropped].map((r) => r.entry))) removeWhenComplete(entry);
    }
    const entriesPublished = new Set(ready.map((r) => r.entry)).size;
    if (entriesPublished > 0) metrics?.relayEntries.inc({ via }, entriesPublished);
    if (dropped.length)
      logger.warn('relay dropped markers of commits that never landed', { refs: dropped.map(plainIndexRef) });
    let saveCheckpoint = false;
    if (ready.length > 0) {
      checkpoint = {
        publishedTotal: checkpoint.publishedTotal + messages.length,
        lastPublishedAt: new Date().toISOString(),
        lastRef: plainIndexRef(ready[ready.length - 1]!),
      };
      saveCheckpoint = Date.now() - lastCheckpointWrite > 1000;
      if (saveCheckpoint) lastCheckpointWrite = Date.now();
    }
    const saved = checkpoint;
    const cleanUp = Promise.all([
      via === 'listing' ? eventStore.markPublished([...ready, ...dropped, ...handledBefore]) : null,
      segmentDue() ? writeSegment() : null,
      saveCheckpoint ? saveInTurn(saved) : null,
    ]).then(() => undefined);
    // Awaited by the caller; handled here in case publishing the next chunk fails first.
    cleanUp.catch(() => undefined);
    return { handled: ready.length + dropped.length + handledBefore.length, cleanUp };
  }

  function saveInTurn(saved: RelayCheckpoint): Promise<void> {
    checkpointSaving = checkpointSaving.catch(() => undefined).then(() => eventStore.putCheckpoint('relay', saved));
    return checkpointSaving;
  }

  /**
   * Whether a marker's commit has been missing for longer than any append can take: the writer
   * failed before its commit landed and was never acknowledged, so the marker can be forgotten.
   */
  function expired(ref: IndexRef): boolean {
    const id = `${aggregateKey(ref)}@${ref.seq}`;
    const since = missingSince.get(id) ?? Date.now();
    missingSince.set(id, since);
    if (Date.now() - since <= graceMs) return false;
    missingSince.delete(id);
    return true;
  }

  /** A full segment, or published commits that waited long enough (a rebuild reads a copy faster than a key). */
  const segmentDue = (): boolean =>
    unsegmented.length >= segmentSize || (unsegmented.length > 0 && Date.now() - unsegmentedSince >= segmentMaxAgeMs);

  /**
   * Copies the published commits into one segment object, which makes a rebuild read them in one
   * request. Only an accelerator: a failure is logged and the commits stay readable by key.
   */
  async function writeSegment(): Promise<void> {
    const commits = unsegmented;
    unsegmented = [];
    if (!eventStore.writeSegment || commits.length === 0) return;
    await eventStore.writeSegment(commits).catch((e: unknown) => {
      logger.warn('relay could not write a segment; rebuild reads those commits one by one', { error: e });
    });
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) {
        woken = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = null;
        woken = false;
        resolve();
      }
      wakeUp = done;
    });

  /**
   * Lists when asked to, at least every poll interval, and while listings come back full (a backlog);
   * otherwise publishes what was offered. (Listing again whenever a listing found something would,
   * under steady load, list all the time: some entry is always in flight.)
   */
  async function pass(): Promise<number> {
    const listDue = listWanted || Date.now() - lastListAt >= options.pollIntervalMs;
    if (!listDue) return offered.size > 0 ? publishOffered() : 0;
    listWanted = false;
    return publishBatch();
  }

  async function run(): Promise<void> {
    let backoff = options.pollIntervalMs;
    while (running) {
      try {
        const handled = await pass();
        if (segmentDue()) await writeSegment();
        lastError = null;
        backoff = options.pollIntervalMs;
        if (handled === 0 && offered.size === 0) await sleep(options.pollIntervalMs);
      } catch (e) {
        // Whatever was offered is listed again by the next pass, which is then a listing.
        listWanted = true;
        lastError = e instanceof Error ? e.message : String(e);
        logger.warn('relay pass failed; retrying', { error: e, backoffMs: backoff });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = false;
      loop = run();
    },
    wake() {
      listWanted = true;
      woken = true;
      wakeUp?.();
    },
    offer({ entry, commits, size }) {
      if (size !== undefined) progressOf(entry).size = size;
      const fresh = refsOfEntry(entry, commits).filter((r) => !isPublished(r));
      const queued = offered.get(entry);
      if (queued) {
        // A part of an entry whose earlier parts wait: published with them (a repeat only once).
        const known = new Set(queued.map(refId));
        queued.push(...fresh.filter((r) => !known.has(refId(r))));
      } else if (fresh.length === 0) removeWhenComplete(entry);
      else if (offered.size >= MAX_OFFERED) listWanted = true;
      else offered.set(entry, fresh);
      woken = true;
      wakeUp?.();
    },
    async drain() {
      while ((await publishBatch()) > 0) {
        /* keep going until the outbox is empty */
      }
      await writeSegment();
    },
    async stop() {
      running = false;
      stopping = true;
      wakeUp?.();
      await loop;
      await Promise.all([flushRemovals(), writeSegment()]);
      if (checkpointLoaded) await eventStore.putCheckpoint('relay', checkpoint).catch(() => undefined);
    },
    status: () => ({ running, lastError, publishedTotal: checkpoint.publishedTotal, backlog }),
  };
}

/** Consecutive refs of one entry, together (listUnpublished lists an entry's refs one after another). */
function entriesOf(refs: UnpublishedRef[]): UnpublishedRef[][] {
  const entries: UnpublishedRef[][] = [];
  for (const ref of refs) {
    const last = entries[entries.length - 1];
    if (last && last[0]!.entry === ref.entry) last.push(ref);
    else entries.push([ref]);
  }
  return entries;
}

/** Whole entries, about `size` refs per chunk. */
function chunksOf(entries: UnpublishedRef[][], size: number): UnpublishedRef[][][] {
  const chunks: UnpublishedRef[][][] = [];
  let current: UnpublishedRef[][] = [];
  let count = 0;
  for (const entry of entries) {
    if (count > 0 && count + entry.length > size) {
      chunks.push(current);
      current = [];
      count = 0;
    }
    current.push(entry);
    count += entry.length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

import { randomUUID } from 'node:crypto';
import { type AggregateRef, aggregateKey, parseAggregateKey } from '../core/aggregate.js';
import type { Command } from '../core/domain/commands.js';
import {
  type AggregateState,
  decide,
  dependenciesOf,
  initialState,
  MUTATION_OF,
  normalizeCommand,
  targetOf,
} from '../core/domain/index.js';
import type { InstanceState, OntologyClassState } from '../core/domain/types.js';
import { type Commit, ENVELOPE_VERSION, type Envelope, newEventId } from '../core/envelope.js';
import {
  BadUserInputError,
  ConflictError,
  isEventAlreadyExists,
  isUnavailable,
  NotFoundError,
} from '../core/errors.js';
import type { EventStore } from '../ports/eventStore.js';
import type { IdempotencyStore } from '../ports/idempotencyStore.js';
import type { LedgerEntry, SequenceStore } from '../ports/sequenceStore.js';
import { type AggregateRepository, applyCommits } from './aggregateRepository.js';
import { type Deadline, NO_DEADLINE, withDeadline } from './deadline.js';
import { runIdempotent } from './idempotency.js';

export interface CommandMeta {
  idempotencyKey: string | null;
  actor: string;
  correlationId: string;
  /** The request's deadline: every dependency call stops there at the latest. */
  deadline?: Deadline;
}

/** The answer of an accepted command: the write-side state right after it. */
export interface CommandResult {
  aggregateId: string;
  state: AggregateState;
  seq: number;
  eventId: string;
}

export interface CommandService {
  execute(command: Command, meta: CommandMeta): Promise<CommandResult>;
  /**
   * Resolves once the appends acknowledged so far have their outbox entries written and their ledger
   * reservations confirmed, or after `timeoutMs`: a stopping gateway leaves nothing for the outbox
   * repair of another (an entry may wait out S3_OUTBOX_ENTRY_INTERVAL_MS).
   */
  settle(timeoutMs: number): Promise<void>;
}

export interface CommandServiceDeps {
  eventStore: EventStore;
  sequenceStore: SequenceStore;
  idempotencyStore: IdempotencyStore;
  repository: AggregateRepository;
  options: {
    dependencyTimeoutMs: number;
    /** Trust cached dependency states (single writer process: the embedded profile). */
    trustCache: boolean;
    /** A reservation older than this with nothing in the store was abandoned by a dead writer. */
    abandonedReservationMs?: number;
  };
  now?: () => Date;
}

const MAX_ATTEMPTS = 4;

export function createCommandService(deps: CommandServiceDeps): CommandService {
  const { eventStore, sequenceStore, repository, options } = deps;
  const timeout = options.dependencyTimeoutMs;
  const abandonedMs = options.abandonedReservationMs ?? timeout * 2;
  const now = deps.now ?? (() => new Date());
  /** Acknowledged appends whose outbox entry and confirmation are under way. */
  const confirming = new Set<Promise<unknown>>();

  async function loadDependencies(command: Command, state: AggregateState, fresh: boolean, deadline: Deadline) {
    const load = (ref: AggregateRef, verify = fresh || !options.trustCache) =>
      withDeadline('eventStore', timeout, () => repository.load(ref, { fresh: verify }), deadline);
    // The reservation re-checks atomically what a decision read of its dependencies: the liveness of
    // the database, referenced instances and target classes (requireLive) and the version of the
    // instance's class (requireVersion); a refusal re-decides on fresh states, and so does a command
    // refused on cached ones (see attempt). So a cached live state is used as it is; only a state
    // that is not live is verified.
    const loadLive = async (ref: AggregateRef) => {
      if (fresh) return load(ref);
      const cached = await load(ref, false);
      return cached.exists ? cached : load(ref);
    };
    const known = dependenciesOf(command, state);
    const [database, ontologyClass] = await Promise.all([
      known.database ? loadLive(known.database) : null,
      known.ontologyClass ? loadLive(known.ontologyClass) : null,
    ]);
    // With the class at hand only its REFERENCE values name instances; without it every id-like
    // string would be loaded (each a ledger read, and a listing when never written).
    const deps = ontologyClass?.exists ? dependenciesOf(command, state, ontologyClass as OntologyClassState) : known;
    const [instances, targetClasses] = await Promise.all([
      Promise.all(deps.referencedInstances.map(loadLive)),
      Promise.all(deps.targetClasses.map(loadLive)),
    ]);
    const byId = <S extends AggregateState>(states: AggregateState[]) =>
      new Map(states.map((s) => [(s as InstanceState | OntologyClassState).id, s.exists ? (s as S) : null]));
    return {
      databaseLive: database ? database.exists : undefined,
      ontologyClass: ontologyClass?.exists ? (ontologyClass as OntologyClassState) : null,
      referencedInstances: byId<InstanceState>(instances),
      targetClasses: byId<OntologyClassState>(targetClasses),
    };
  }

  async function attempt(command: Command, meta: CommandMeta, fresh: boolean): Promise<CommandResult | 'retry'> {
    const target = targetOf(command);
    const key = aggregateKey(target);
    const expected = 'expectedSeq' in command.input ? (command.input.expectedSeq as number) : null;
    const deadline = meta.deadline ?? NO_DEADLINE;
    // A create expects its aggregate not to exist: unless this service knows it, decide as if it did
    // not, without asking the ledger (an id just generated here names nothing yet, and a client's id
    // is almost always new). Were it taken, the reservation (expectedSeq 0) refuses and the retry
    // decides on fresh state, which gives the precise answer (CONFLICT, or a re-create after a delete).
    const assumeNew = !fresh && isCreate(command) && !repository.cached(target);
    const cached = assumeNew
      ? initialState(target)
      : await withDeadline('eventStore', timeout, () => repository.load(target, { fresh: false }), deadline);
    const needsFresh = fresh || (expected !== null && expected > cached.seq);
    const state = needsFresh
      ? await withDeadline('eventStore', timeout, () => repository.load(target), deadline)
      : cached;
    // A stale expectedSeq on a live target read fresh is CONFLICT whatever its dependencies hold: a
    // live aggregate's parents are live (a delete is refused while children live), so no NOT_FOUND
    // can come first in the order of checks, and re-reading them would only delay the answer.
    if (needsFresh && expected !== null && state.exists && state.seq !== expected) {
      throw new ConflictError(target.aggregateId, expected, state.seq);
    }
    const context = await loadDependencies(command, state, fresh, deadline);
    let decision: ReturnType<typeof decide>;
    try {
      decision = decide(command, state, { now: now().toISOString(), ...context });
    } catch (e) {
      // Refused on cached states (a class schema may have changed since): confirm on fresh ones.
      if (!fresh) return 'retry';
      throw e;
    }
    const nextSeq = decision.expectedSeq + decision.events.length;

    const reservation = await withDeadline(
      'sequenceStore',
      timeout,
      () =>
        sequenceStore.reserve({
          key,
          expectedSeq: decision.expectedSeq,
          nextSeq,
          liveAfter: decision.guards.liveAfter,
          parent: decision.guards.parent ? aggregateKey(decision.guards.parent) : null,
          requireLive: decision.guards.requireLive.map(aggregateKey).filter((k) => k !== key),
          forbidLiveChildren: decision.guards.forbidLiveChildren,
          requireVersion: decision.guards.requireVersion.map(({ ref, seq }) => ({ key: aggregateKey(ref), seq })),
        }),
      deadline,
    );
    if (!reservation.ok) {
      if (reservation.reason === 'has_live_children') {
        throw new BadUserInputError(
          'input',
          `${target.aggregateId} still has ${reservation.count} live children; delete them first`,
        );
      }
      if (reservation.reason === 'stale_version') {
        // A dependency changed after we read it (e.g. the class schema): decide again on its new state.
        await settleDependency(reservation.entry, decision.guards.requireVersion);
        return 'retry';
      }
      if (reservation.reason === 'not_live') {
        // Our view of a dependency was stale: deciding again on fresh states gives the precise error.
        if (!fresh) return 'retry';
        const missing = parseAggregateKey(reservation.key);
        if (missing.aggregateType === 'INSTANCE') {
          throw new BadUserInputError('input.properties', `referenced instance ${missing.aggregateId} does not exist`);
        }
        throw new NotFoundError(missing.aggregateId);
      }
      const entry = reservation.entry;
      if (entry.seq > state.seq && !fresh) return 'retry'; // our cache was behind: re-decide on fresh state
      if (entry.seq > state.seq && Date.now() - entry.reservedAt > abandonedMs && entry.confirmedSeq < entry.seq) {
        // A writer reserved and died before appending: give the number back (no gap) and retry.
        await sequenceStore.rollback(key, entry.seq, { seq: state.seq, live: state.exists });
        return 'retry';
      }
      throw new ConflictError(target.aggregateId, expected ?? 0, Math.max(entry.seq, state.seq));
    }

    // Recorded at the ledger's reservation time: conflicting writes then read in the order they were serialized.
    const recordedAt = new Date(reservation.reservedAt).toISOString();
    const commit = buildCommit(command, target, decision.expectedSeq, decision.events, meta, recordedAt);
    let indexed: Promise<void>;
    try {
      ({ indexed } = await appendWithRetry(commit, deadline));
    } catch (e) {
      if (isEventAlreadyExists(e)) {
        const fresher = await repository.load(target);
        throw new ConflictError(target.aggregateId, expected ?? 0, fresher.seq);
      }
      // The outcome is unknown (the commit may have landed without its outbox marker). Keep
      // re-sending the same bytes in the background until the store answers either way; the
      // reservation stays until then and is given back by the abandoned-reservation repair.
      settleInBackground(commit);
      throw e;
    }
    // Acknowledged on the commit; confirmed once its outbox entry is written too. Until then the
    // reservation stays unconfirmed, which is what sends the outbox repair to a commit left without
    // an entry (this process dying, or the entry's write failing and its re-sends below too).
    const confirm = () => sequenceStore.confirm(key, nextSeq).catch(() => undefined);
    const confirmed = indexed.then(confirm, () => settleInBackground(commit, confirm));
    confirming.add(confirmed);
    void confirmed.finally(() => confirming.delete(confirmed));
    const after = applyCommits(state, [commit]);
    repository.remember(after);
    const last = commit.envelopes[commit.envelopes.length - 1]!;
    return { aggregateId: target.aggregateId, state: after, seq: after.seq, eventId: last.eventId };
  }

  /**
   * Before re-deciding after a stale dependency: when the ledger is ahead of what we read, its writer
   * is still appending (wait a moment for the store to catch up) or died (give the number back).
   */
  async function settleDependency(entry: LedgerEntry, read: { ref: AggregateRef; seq: number }[]): Promise<void> {
    const readSeq = read.find(({ ref }) => aggregateKey(ref) === entry.key)?.seq ?? 0;
    if (entry.seq <= readSeq || entry.confirmedSeq >= entry.seq) return;
    if (Date.now() - entry.reservedAt > abandonedMs) {
      const stored = await repository.load(parseAggregateKey(entry.key));
      if (stored.seq < entry.seq)
        await sequenceStore.rollback(entry.key, entry.seq, { seq: stored.seq, live: stored.exists });
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Resolves once the commit is durable, with the promise of its outbox entry. Re-sending identical
   * bytes is safe: the store accepts an identical commit at its own position.
   */
  async function appendWithRetry(commit: Commit, requestDeadline: Deadline): Promise<{ indexed: Promise<void> }> {
    const giveUpAt = Date.now() + timeout;
    for (let delay = 50; ; delay *= 2) {
      try {
        return await withDeadline(
          'eventStore',
          Math.max(100, giveUpAt - Date.now()),
          () => eventStore.appendCommit(commit),
          requestDeadline,
        );
      } catch (e) {
        if (!isUnavailable(e) || Date.now() + delay >= Math.min(giveUpAt, requestDeadline)) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  function settleInBackground(commit: Commit, onStored?: () => unknown): void {
    const giveUpAt = Date.now() + abandonedMs / 2;
    const retry = async (delay: number): Promise<void> => {
      try {
        await eventStore.append(commit);
        onStored?.();
      } catch (e) {
        if (isUnavailable(e) && Date.now() + delay < giveUpAt) {
          await new Promise((r) => setTimeout(r, delay));
          return retry(Math.min(delay * 2, 2_000));
        }
      }
    };
    void retry(200);
  }

  async function run(command: Command, meta: CommandMeta): Promise<CommandResult> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const result = await attempt(command, meta, i > 0);
      if (result !== 'retry') return result;
    }
    const target = targetOf(command);
    throw new ConflictError(target.aggregateId, 0, (await repository.load(target)).seq);
  }

  return {
    async execute(raw, meta) {
      const normalized = withGeneratedId(normalizeCommand(raw));
      if (!meta.idempotencyKey) return run(normalized, meta);
      const database = 'database' in raw.input ? raw.input.database : raw.input.name;
      return runIdempotent(
        deps.idempotencyStore,
        {
          scope: `${database}:${MUTATION_OF[raw.type]}`,
          key: meta.idempotencyKey,
          input: raw.input,
          leaseMs: timeout * 3,
          waitMs: timeout * 3,
          deadline: meta.deadline,
        },
        // The generated id must be chosen inside, once: a replay returns the first answer anyway.
        () => run(normalized, meta),
      );
    },

    async settle(timeoutMs) {
      // Past the timeout, what is left is the outbox repair's: not an error for whoever stops.
      await withDeadline('eventStore', timeoutMs, () => Promise.allSettled([...confirming])).catch(() => undefined);
    },
  };
}

const isCreate = (command: Command): boolean =>
  command.type === 'CreateDatabase' || command.type === 'CreateOntologyClass' || command.type === 'CreateInstance';

function withGeneratedId(command: Command): Command {
  if (command.type !== 'CreateInstance' || command.input.id) return command;
  return { ...command, input: { ...command.input, id: randomUUID() } };
}

function buildCommit(
  command: Command,
  target: AggregateRef,
  expectedSeq: number,
  events: { type: string; payload: unknown }[],
  meta: CommandMeta,
  occurredAt: string,
): Commit {
  const seq = expectedSeq + events.length;
  const base = {
    envelopeVersion: ENVELOPE_VERSION,
    aggregateType: target.aggregateType,
    aggregateId: target.aggregateId,
    schemaVersion: 1,
    occurredAt,
    actor: meta.actor,
    correlationId: meta.correlationId,
    idempotencyKey: meta.idempotencyKey,
    metadata: {},
  };
  const commandEnvelope: Envelope = {
    ...base,
    eventId: newEventId(),
    kind: 'command',
    type: command.type,
    seq,
    causationId: null,
    payload: command.input,
  };
  const domain = events.map<Envelope>((event, i) => ({
    ...base,
    eventId: newEventId(),
    kind: 'domain',
    type: event.type,
    seq: expectedSeq + i + 1,
    causationId: commandEnvelope.eventId,
    payload: event.payload,
  }));
  return {
    aggregateType: target.aggregateType,
    aggregateId: target.aggregateId,
    seq,
    envelopes: [commandEnvelope, ...domain],
  };
}

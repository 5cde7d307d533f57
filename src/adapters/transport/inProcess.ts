import type { ConsumedBatch, Transport, TransportConsumer, TransportMessage } from '../../ports/transport.js';
import { type BackoffOptions, backoffMs } from './backoff.js';

export interface InProcessTransportOptions {
  /** Partitions of the log; a key always maps to the same one. @default 4 */
  partitions?: number;
  /** Most messages handed to `handle` at once. @default 500 */
  maxBatchSize?: number;
  /** Backoff before a failed batch is redelivered. @default { initialMs: 100, maxMs: 5_000 } */
  retry?: BackoffOptions;
}

export interface InProcessTransport extends Transport {
  /** Stops every consumer (letting batches in hand finish). The log itself lives as long as the object. */
  close(): Promise<void>;
}

type Handler = (batch: ConsumedBatch) => Promise<void>;

interface Member {
  handle: Handler;
  onError: ((error: unknown) => void) | undefined;
  stopped: boolean;
  inFlight: Set<Promise<void>>;
}

interface Group {
  /** Next offset to deliver per partition (= committed: a batch is committed as soon as it is handled). */
  committed: number[];
  /** Current members in join order. */
  members: Member[];
  owner: (Member | undefined)[];
  /** A batch of the partition is being handled (possibly by a member that has since stopped). */
  busy: boolean[];
  attempts: number[];
  retryTimers: (ReturnType<typeof setTimeout> | undefined)[];
}

/** FNV-1a over the key's UTF-16 code units: stable across runs, cheap. */
function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/**
 * An in-memory partitioned log with consumer groups, for the embedded profile and fast tests. It has
 * Kafka's semantics where the port promises them: order per partition, offsets committed per group
 * after `handle` resolves (kept in memory, so they survive consumer stop/start within the process),
 * partitions spread round-robin over the group's current members, redelivery of failed batches.
 * Not durable: the log is gone when the process exits.
 */
export function createInProcessTransport({
  partitions = 4,
  maxBatchSize = 500,
  retry = {},
}: InProcessTransportOptions = {}): InProcessTransport {
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`partitions must be ≥ 1, got ${partitions}`);
  const log: TransportMessage[][] = Array.from({ length: partitions }, () => []);
  const groups = new Map<string, Group>();
  let closed = false;

  const rebalance = (group: Group): void => {
    for (let p = 0; p < partitions; p++) {
      const owner = group.members.length > 0 ? group.members[p % group.members.length] : undefined;
      if (owner !== group.owner[p]) {
        group.owner[p] = owner;
        // A new owner starts afresh rather than inheriting the previous owner's backoff.
        clearTimeout(group.retryTimers[p]);
        group.retryTimers[p] = undefined;
        group.attempts[p] = 0;
      }
    }
    for (let p = 0; p < partitions; p++) drive(group, p);
  };

  const drive = (group: Group, p: number): void => {
    const owner = group.owner[p];
    if (closed || !owner || owner.stopped || group.busy[p] || group.retryTimers[p]) return;
    const from = group.committed[p]!;
    const messages = log[p]!.slice(from, from + maxBatchSize);
    if (messages.length === 0) return;
    group.busy[p] = true;
    const batch: ConsumedBatch = {
      partition: p,
      messages: messages.map((m, i) => ({ ...m, offset: String(from + i) })),
    };
    const run = (async () => {
      try {
        await owner.handle(batch);
        group.committed[p] = from + messages.length;
        group.attempts[p] = 0;
        group.busy[p] = false;
        // Next batch on a fresh tick: no deep recursion, and other partitions get their turn.
        setImmediate(() => drive(group, p));
      } catch (error) {
        group.busy[p] = false;
        owner.onError?.(error);
        const attempt = (group.attempts[p] ?? 0) + 1;
        group.attempts[p] = attempt;
        group.retryTimers[p] = setTimeout(
          () => {
            group.retryTimers[p] = undefined;
            drive(group, p);
          },
          backoffMs(attempt, retry),
        );
      }
    })();
    owner.inFlight.add(run);
    void run.finally(() => owner.inFlight.delete(run));
  };

  const stopMember = async (groupId: string, member: Member): Promise<void> => {
    if (!member.stopped) {
      member.stopped = true;
      const group = groups.get(groupId);
      if (group) {
        group.members = group.members.filter((m) => m !== member);
        rebalance(group);
      }
    }
    await Promise.all([...member.inFlight]);
  };

  const consumers = new Set<{ groupId: string; member: Member }>();

  return {
    async publish(messages) {
      if (closed) throw new Error('in-process transport is closed');
      const touched = new Set<number>();
      for (const { key, value, kind } of messages) {
        const p = partitionOf(key, partitions);
        log[p]!.push(kind ? { key, value, kind } : { key, value });
        touched.add(p);
      }
      for (const group of groups.values()) for (const p of touched) drive(group, p);
    },

    async consume({ groupId, fromBeginning, onError }, handle): Promise<TransportConsumer> {
      if (closed) throw new Error('in-process transport is closed');
      let group = groups.get(groupId);
      if (!group) {
        group = {
          committed: log.map((entries) => (fromBeginning ? 0 : entries.length)),
          members: [],
          owner: [],
          busy: Array.from({ length: partitions }, () => false),
          attempts: Array.from({ length: partitions }, () => 0),
          retryTimers: [],
        };
        groups.set(groupId, group);
      }
      const member: Member = { handle, onError, stopped: false, inFlight: new Set() };
      const entry = { groupId, member };
      consumers.add(entry);
      group.members.push(member);
      rebalance(group);
      return {
        stop: async () => {
          consumers.delete(entry);
          await stopMember(groupId, member);
        },
      };
    },

    async ping() {
      if (closed) throw new Error('in-process transport is closed');
    },

    async close() {
      closed = true;
      const all = [...consumers];
      consumers.clear();
      await Promise.all(all.map(({ groupId, member }) => stopMember(groupId, member)));
      for (const group of groups.values()) for (const timer of group.retryTimers) clearTimeout(timer);
    },
  };
}

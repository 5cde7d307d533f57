import { randomUUID } from 'node:crypto';
import type { AggregateType } from './aggregate.js';

/** Version of the envelope's own shape; bump with an upcaster in `upcast`. */
export const ENVELOPE_VERSION = 1;

export type EnvelopeKind = 'command' | 'domain';

/**
 * One JSON shape for commands and domain events: the same bytes in the event store and on the
 * transport. Immutable once written.
 */
export interface Envelope<P = unknown> {
  envelopeVersion: number;
  eventId: string;
  kind: EnvelopeKind;
  type: string;
  aggregateType: AggregateType;
  aggregateId: string;
  /** Domain event: the aggregate version it produced. Command: the version its events produced. */
  seq: number;
  /** Version of the payload schema of this `type` (upcasting hook). */
  schemaVersion: number;
  occurredAt: string;
  actor: string;
  correlationId: string;
  causationId: string | null;
  idempotencyKey: string | null;
  payload: P;
  metadata: Record<string, unknown>;
}

/**
 * What one accepted command writes at one aggregate position: its command envelope followed by the
 * domain event(s) it caused. Stored as one object so that the position is claimed atomically.
 */
export interface Commit {
  aggregateType: AggregateType;
  aggregateId: string;
  /** The aggregate version after this commit (the seq of its last domain event). */
  seq: number;
  envelopes: Envelope[];
}

export interface EnvelopeContext {
  actor: string;
  correlationId: string;
  idempotencyKey: string | null;
}

export const newEventId = (): string => randomUUID();

/**
 * The text each envelope parsed as it is (no upcast) was read from. Envelopes are immutable, so
 * serializing one again is those very bytes: a relay passing commits from the store to the
 * transport does not stringify what it just parsed.
 */
const readFrom = new WeakMap<Envelope, string>();

export const serializeEnvelope = (e: Envelope): string => readFrom.get(e) ?? JSON.stringify(e);

/** Parses and upcasts an envelope read from storage or the transport. Throws on a malformed one. */
export const parseEnvelope = (text: string): Envelope => {
  const parsed = JSON.parse(text) as Envelope;
  const envelope = upcast(parsed);
  // An upcaster returns a new object (never rewrites the parsed one), so this holds only as read.
  if (envelope === parsed) readFrom.set(envelope, text);
  return envelope;
};

const upcast = (e: Envelope): Envelope => {
  if (typeof e.envelopeVersion !== 'number' || e.envelopeVersion > ENVELOPE_VERSION) {
    throw new Error(`Unsupported envelope version ${String(e.envelopeVersion)}`);
  }
  // Version 1 is the only version so far; an older shape would be rewritten here into a new object.
  return e;
};

/** One commit is stored as JSON Lines: one envelope per line, the exact bytes sent on the transport. */
export const serializeCommit = (c: Commit): string => `${c.envelopes.map(serializeEnvelope).join('\n')}\n`;

export const parseCommit = (text: string): Commit => {
  const envelopes = text
    .split('\n')
    .filter((line) => line.length > 0)
    .map(parseEnvelope);
  const last = envelopes[envelopes.length - 1];
  if (!last) throw new Error('Empty commit');
  return { aggregateType: last.aggregateType, aggregateId: last.aggregateId, seq: last.seq, envelopes };
};

import { describe, expect, it } from 'vitest';
import { parseCommit, parseEnvelope, serializeCommit, serializeEnvelope } from '../../../src/core/envelope.js';
import { makeCommit } from '../../contract/eventStore.contract.js';

describe('envelope text', () => {
  // Bytes a writer may have used that JSON.stringify would not produce: escaped non-ASCII, spaces.
  const stored = JSON.stringify(makeCommit('INSTANCE', 'db/a', 3).envelopes[0]).replace('naïve', 'na\\u00efve');

  it('serializes a parsed envelope as the very bytes it was read from', () => {
    expect(stored).toContain('na\\u00efve');
    const envelope = parseEnvelope(stored);
    expect(serializeEnvelope(envelope)).toBe(stored);
    expect(JSON.stringify(envelope)).not.toBe(stored);
  });

  it('serializes a copy (a changed envelope is a new object) from its fields', () => {
    const copy = { ...parseEnvelope(stored), seq: 4 };
    expect(JSON.parse(serializeEnvelope(copy))).toEqual(copy);
    expect(serializeEnvelope(copy)).not.toContain('na\\u00efve');
  });

  it('gives back a stored commit byte for byte', () => {
    const commit = makeCommit('INSTANCE', 'db/b', 2);
    const text = `${commit.envelopes.map((e) => JSON.stringify(e).replace(/"seq":/, '"seq" :')).join('\n')}\n`;
    expect(serializeCommit(parseCommit(text))).toBe(text);
    expect(parseCommit(text)).toEqual(commit);
  });
});

import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * kafkajs 2.2.4 encodes every produced record through an Encoder that zero-fills a 512-byte buffer
 * per record and per header, writes each varint through an array and a new Buffer, and a record's
 * timestamp delta through 64-bit Long arithmetic: a quarter of a relay's CPU catching up.
 * `patches/kafkajs+2.2.4.patch` writes varints in place, sizes records and headers, and takes an
 * int32 fast path for varlongs. These tests hold the patched encoder to the wire format: byte for
 * byte against a reference encoding (BigInt zigzag + LEB128), and records decoded back by kafkajs.
 * The patch also groups a batch's messages per partition in place (the original copied the
 * partition's array for every message, quadratic in the batch).
 */
const require = createRequire(import.meta.url);

interface KafkaEncoder {
  buf: Buffer;
  buffer: Buffer;
  writeVarInt(v: number): KafkaEncoder;
  writeVarLong(v: unknown): KafkaEncoder;
}
interface EncoderClass {
  new (initialSize?: number): KafkaEncoder;
  sizeOfVarLong(v: unknown): number;
}
interface LongValue {
  toString(): string;
}
interface KafkaDecoder {
  readVarInt(): number;
  readVarLong(): LongValue;
}

const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => KafkaDecoder;
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => KafkaEncoder;
const Header = require('kafkajs/src/protocol/recordBatch/header/v0/index.js') as (h: object) => KafkaEncoder;
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as (
  d: KafkaDecoder,
  ctx: object,
) => {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
  offset: string;
  timestamp: string;
};

/** The varint of the protocol: zigzag over `bits`, then 7 bits per byte, low first. */
function reference(value: bigint, bits: 32n | 64n): Buffer {
  let z = BigInt.asUintN(Number(bits), (value << 1n) ^ (value >> (bits - 1n)));
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  bytes.push(Number(z));
  return Buffer.from(bytes);
}

const INT32_EDGES = [0, 1, -1, 63, 64, -64, -65, 127, 128, 300, 8191, 8192, 2 ** 20, 2 ** 31 - 1, -(2 ** 31)];
const random = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed;
};

describe('kafkajs Encoder (patched)', () => {
  it('writes varints byte for byte as the protocol says', () => {
    const next = random(7);
    const values = [...INT32_EDGES, ...Array.from({ length: 500 }, () => (next() - 2 ** 30) * (next() % 2 ? 1 : -1))];
    for (const v of values.map((x) => x | 0)) {
      const written = new Encoder(1).writeVarInt(v).buffer;
      expect(written.equals(reference(BigInt(v), 32n)), `varint ${v}`).toBe(true);
      expect(new Decoder(written).readVarInt()).toBe(v);
    }
  });

  it('writes varlongs byte for byte, in and beyond the int32 range, numbers and Longs', () => {
    const beyond = [2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 3, -(2 ** 45), Date.now(), Number.MAX_SAFE_INTEGER, 0.5e15];
    for (const v of [...INT32_EDGES, ...beyond]) {
      const expected = reference(BigInt(v), 64n);
      for (const input of [v, Long.fromString(String(v))]) {
        const written = new Encoder(1).writeVarLong(input).buffer;
        expect(written.equals(expected), `varlong ${v}`).toBe(true);
        expect(Encoder.sizeOfVarLong(input)).toBe(expected.length);
        expect(new Decoder(written).readVarLong().toString()).toBe(String(v));
      }
    }
  });

  it('encodes records and their headers that kafkajs decodes back', () => {
    const value = `{"payload":"${'é✓'.repeat(300)}","n":1}`;
    for (const [offsetDelta, timestampDelta] of [
      [0, 0],
      [499, 3],
      [70_000, -5],
    ] as const) {
      const encoded = Record({ key: 'instance:a-1', value, headers: { kind: 'domain' }, offsetDelta, timestampDelta });
      const decoder = new Decoder(encoded.buffer);
      const length = decoder.readVarInt();
      expect(length).toBe(encoded.buffer.length - reference(BigInt(length), 32n).length);
      const record = decodeRecord(decoder, { firstOffset: '100', firstTimestamp: '1700000000000', magicByte: 2 });
      expect(record.key.toString()).toBe('instance:a-1');
      expect(record.value.toString()).toBe(value);
      expect(record.headers.kind?.toString()).toBe('domain');
      expect(record.offset).toBe(String(100 + offsetDelta));
      expect(record.timestamp).toBe(String(1_700_000_000_000 + timestampDelta));
    }
  });

  it('sizes a header and a record for their bytes (not 512 each)', () => {
    expect(Header({ key: 'kind', value: 'domain' }).buf.length).toBeLessThan(64);
    const record = Record({ key: 'k', value: 'x'.repeat(600), headers: {}, offsetDelta: 1, timestampDelta: 0 });
    expect(record.buf.length).toBe(1024);
  });
});

describe('kafkajs groupMessagesPerPartition (patched)', () => {
  const group = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (
    args: object,
  ) => Record<string, { key: string }[]>;
  const partitionMetadata = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 0 }));
  const partitioner = ({ message }: { message: { key: string } }) => Number(message.key.split(':')[0]);

  it("keeps each partition's messages in the order given", () => {
    const messages = Array.from({ length: 3_000 }, (_, i) => ({ key: `${(i * 7) % 3}:${i}` }));
    const grouped = group({ topic: 't', partitionMetadata, messages, partitioner });
    expect(Object.keys(grouped).sort()).toEqual(['0', '1', '2']);
    for (const p of ['0', '1', '2']) expect(grouped[p]).toEqual(messages.filter((m) => m.key.startsWith(`${p}:`)));
  });

  it('gives nothing for a topic without partition metadata', () => {
    expect(group({ topic: 't', partitionMetadata: [], messages: [{ key: '0:a' }], partitioner })).toEqual({});
  });
});

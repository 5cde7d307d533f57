import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * kafkajs 2.2.4 checksums every record batch it produces with a CRC-32C table loop in JS, ~8 % of
 * a producing process's CPU. `patches/kafkajs+2.2.4.patch` makes it use @node-rs/crc32 (native);
 * these tests fail if the patch is not applied or the native module does not load.
 */
const require = createRequire(import.meta.url);
const patched = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const tableLoop = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

describe('kafkajs CRC-32C (patched)', () => {
  it('uses the native implementation', () => {
    expect(Object.keys(require.cache).some((path) => path.includes('@node-rs/crc32'))).toBe(true);
  });

  it('gives the checksums of the JS implementation, and the standard check value', () => {
    expect(patched(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(patched(Buffer.alloc(0))).toBe(0);
    for (const size of [1, 7, 64, 1_000, 65_537, 1 << 20]) {
      const buffer = randomBytes(size);
      expect(patched(buffer)).toBe(tableLoop(buffer));
    }
    const inside = randomBytes(4_096).subarray(100, 3_000); // a view into a larger buffer, as kafkajs passes
    expect(patched(inside)).toBe(tableLoop(inside));
  });
});

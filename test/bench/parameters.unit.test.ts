import { describe, expect, it } from 'vitest';
import { BenchUsageError, benchParameters } from '../../bench/run/parameters.js';

describe('bench parameters', () => {
  it('takes the profile defaults, smaller with --quick', () => {
    expect(benchParameters({}, 'production')).toMatchObject({ backlog: 100_000, levels: [1, 8, 32, 128] });
    expect(benchParameters({}, 'embedded').backlog).toBe(50_000);
    expect(benchParameters({ quick: true }, 'production')).toMatchObject({ backlog: 1_000, levelMs: 2_000 });
  });

  it('uses the numbers given', () => {
    const p = benchParameters(
      { backlog: '2000', levels: '4,16', 'level-seconds': '1.5', 'e2e-rate': '75', seed: '0' },
      'production',
    );
    expect(p).toMatchObject({
      backlog: 2_000,
      levels: [4, 16],
      levelMs: 1_500,
      e2eRate: 75,
      e2eRateFixed: true,
      seed: 0,
    });
  });

  it.each([
    [{ backlog: 'abc' }, '--backlog must be a positive number, not "abc"'],
    [{ backlog: '0' }, '--backlog must be a positive number, not "0"'],
    [{ 'e2e-seconds': '' }, '--e2e-seconds must be a positive number, not ""'],
    [{ subscribers: '-5' }, '--subscribers must be a positive number, not "-5"'],
    [{ seed: 'x' }, '--seed must be a non-negative number, not "x"'],
    [{ levels: '1,,8' }, '--levels must be client counts separated by commas (1,8,32,128), not "1,,8"'],
    [{ levels: '2.5' }, '--levels must be client counts separated by commas (1,8,32,128), not "2.5"'],
  ])('refuses %o, naming the option', (args, message) => {
    expect(() => benchParameters(args, 'production')).toThrow(new BenchUsageError(message));
  });
});

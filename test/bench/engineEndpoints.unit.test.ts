import { describe, expect, it } from 'vitest';
import { missingEngines } from '../../bench/cluster.js';

const ALL = {
  DATABASE_URL: 'postgres://127.0.0.1:55432/cairn',
  S3_ENDPOINT: 'http://127.0.0.1:59000',
  KAFKA_BROKERS: '127.0.0.1:59092',
  ELASTICSEARCH_URL: 'http://127.0.0.1:59200',
};

describe('the bench refuses the production profile without engine endpoints', () => {
  it('accepts every endpoint set', () => {
    expect(missingEngines(ALL)).toBeNull();
  });

  it('names each missing endpoint and says how to start the engines', () => {
    const { S3_ENDPOINT: _s3, ELASTICSEARCH_URL: _es, ...rest } = ALL;
    const message = missingEngines({ ...rest, KAFKA_BROKERS: '' });
    expect(message).toContain('S3_ENDPOINT, KAFKA_BROKERS, ELASTICSEARCH_URL are not set');
    expect(message).toContain('npm run infra:up');
    expect(message).not.toContain('DATABASE_URL');
  });
});

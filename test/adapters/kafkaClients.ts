import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { randomId } from '../support/ids.js';

/** Kafka clients for the int tests: the engines' broker, quiet logs. */
export const brokers = (): string[] => inject('engines').KAFKA_BROKERS.split(',');

export const testKafka = (): Kafka =>
  new Kafka({ clientId: randomId('cairn-test-'), brokers: brokers(), logLevel: logLevel.NOTHING });

/** A client pointed at a closed port, failing fast: few retries, short timeouts. */
export const unreachableKafka = (): Kafka =>
  new Kafka({
    clientId: randomId('cairn-test-'),
    brokers: ['127.0.0.1:1'],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 300,
    requestTimeout: 1_000,
    retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
  });

/** Deletes the test's topics (best effort). */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics, timeout: 5_000 });
  } catch {
    // best effort
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? Number.NaN;
};

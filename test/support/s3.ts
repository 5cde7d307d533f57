import { inject } from 'vitest';
import { ensureBucket } from '../../src/adapters/eventStore/s3.js';
import { httpS3Api, type S3Api } from '../../src/adapters/eventStore/s3Api.js';

/** The bucket the integration tests share (each test works under a prefix of its own). */
export const TEST_BUCKET = 'cairn-test';

/** The client production uses (plain HTTP, SigV4) on the test engines' MinIO, its bucket created. */
export async function testS3Api(): Promise<S3Api> {
  const env = inject('engines');
  const s3 = httpS3Api({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    bucket: TEST_BUCKET,
    timeoutMs: 5_000,
  });
  await ensureBucket(s3, TEST_BUCKET);
  return s3;
}

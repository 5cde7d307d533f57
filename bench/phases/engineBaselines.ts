import { join } from 'node:path';
import {
  diskBaselines,
  elasticsearchBaselines,
  kafkaBaselines,
  postgresBaselines,
  s3Baselines,
  s3Client,
  sampleCommits,
  sampleLocalCommits,
} from '../baselines.js';
import { type BenchRun, DB } from '../run/context.js';

/** The engines alone doing Cairn's work, on bodies of the run's own commits. */
export async function engineBaselines(run: BenchRun): Promise<void> {
  await sampleCommitBodies(run);
  await baselines(run);
}

async function sampleCommitBodies(run: BenchRun): Promise<void> {
  const { engines, ns } = run;
  if (run.profile === 'production') {
    const s3 = s3Client(engines);
    try {
      run.commitSamples = await sampleCommits(s3, engines.S3_BUCKET ?? 'cairn-events', ns.S3_PREFIX!);
    } finally {
      s3.destroy();
    }
  } else {
    run.commitSamples = sampleLocalCommits(
      join(run.dataDir, 'store'),
      run.hot.slice(0, 20).map((id) => `events/INSTANCE/${DB}/${id}/0000000001.jsonl`),
    );
  }
}

async function baselines(run: BenchRun): Promise<void> {
  const { engines, ns } = run;
  const o = { quick: run.quick, commits: run.commitSamples };
  if (run.profile === 'production') {
    run.add(...(await s3Baselines(engines, ns.S3_PREFIX!, o)));
    run.add(...(await postgresBaselines(engines, o)));
    run.add(...(await kafkaBaselines(engines, ns.KAFKA_EVENTS_TOPIC!, o)));
    run.add(...(await elasticsearchBaselines(engines, ns.ELASTICSEARCH_INDEX_PREFIX!, o)));
  } else {
    run.add(...(await diskBaselines(run.dataDir, o)));
  }
}

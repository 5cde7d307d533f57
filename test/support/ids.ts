import { randomBytes } from 'node:crypto';

/** A short random lowercase id for isolating a test's resources (bucket prefix, topic, index, schema). */
export const randomId = (prefix = 't'): string => `${prefix}${randomBytes(5).toString('hex')}`;

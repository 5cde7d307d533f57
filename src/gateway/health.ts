import type { Profile } from '../config/config.js';

export type DependencyStatus = 'up' | 'down';
export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  profile: Profile;
  dependencies: Record<string, { status: DependencyStatus; detail: string }>;
}

/** A named probe: resolves when the dependency answers; its error message becomes the detail. */
export type HealthCheck = () => Promise<string | undefined>;

/**
 * Runs every probe in parallel with a deadline. `down` (HTTP 503) when a dependency the process
 * needs to serve is down; `degraded` when only an optional one (e.g. a worker lagging) is.
 */
export async function checkHealth(
  profile: Profile,
  checks: Record<string, { check: HealthCheck; critical: boolean }>,
  timeoutMs = 2_000,
): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, { check, critical }]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const detail = await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { name, critical, status: 'up' as const, detail: detail ?? 'ok' };
      } catch (e) {
        const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
        return {
          name,
          critical,
          status: 'down' as const,
          detail: `${e instanceof Error ? e.message : String(e)}${cause}`,
        };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const criticalDown = entries.some((e) => e.critical && e.status === 'down');
  const anyDown = entries.some((e) => e.status === 'down');
  return {
    status: criticalDown ? 'down' : anyDown ? 'degraded' : 'ok',
    profile,
    dependencies: Object.fromEntries(entries.map((e) => [e.name, { status: e.status, detail: e.detail }])),
  };
}

import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CairnError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * The one error boundary: CairnErrors become their contract code and extensions; GraphQL's own
 * validation errors keep theirs; anything else is masked as INTERNAL_SERVER_ERROR (and logged).
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? (error.originalError ?? null) : error;
    if (original instanceof CairnError) {
      return {
        message: original.message,
        ...(formatted.locations ? { locations: formatted.locations } : {}),
        ...(formatted.path ? { path: formatted.path } : {}),
        extensions: { code: original.code, ...original.extensions },
      };
    }
    if (original === null || (error instanceof GraphQLError && !error.originalError)) {
      // Parse/validation/variable errors: Apollo already set a contract code (BAD_USER_INPUT, GRAPHQL_VALIDATION_FAILED...).
      const code = formatted.extensions?.code;
      return { ...formatted, extensions: { ...formatted.extensions, code: code ?? 'BAD_USER_INPUT' } };
    }
    if (original instanceof GraphQLError) return { ...formatted, extensions: { ...formatted.extensions } };
    logger.error('unexpected error', { error: original, path: formatted.path });
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** Strips stack traces Apollo may add in development. */
export const withoutStacktrace = (f: GraphQLFormattedError): GraphQLFormattedError => {
  if (!f.extensions || !('stacktrace' in f.extensions)) return f;
  const { stacktrace: _omit, ...extensions } = f.extensions;
  return { ...f, extensions };
};

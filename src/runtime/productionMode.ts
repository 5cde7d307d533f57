/**
 * Imported first by the entry points, before any library reads it: NODE_ENV is `production` in a
 * Cairn process unless set. graphql-js reads it once, at load, and otherwise runs a development
 * check on every failed type test of every field it completes (`instanceOf`: 6 % of a gateway's CPU
 * serving pages of 100 instances). Apollo Server's choices that follow NODE_ENV (stack traces in
 * errors, introspection, the landing page) are set explicitly in gateway/server.ts, so they do not
 * change with it. `NODE_ENV=development` turns graphql-js's checks back on.
 */
process.env.NODE_ENV ??= 'production';

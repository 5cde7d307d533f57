#!/usr/bin/env bash
# Starts `npm start` (embedded profile) on a free port with a scratch data dir, checks /health and one
# mutation + query, then stops it with SIGTERM and checks it exits cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d)
log="$data/start.log"
# Own process group, so the stop below reaches npm, tsx and node alike.
PORT=0 CAIRN_DATA_DIR="$data" LOG_LEVEL=warn setsid npm start >"$log" 2>&1 &
pid=$!
trap 'kill -KILL -- -$pid 2>/dev/null || true; rm -rf "$data"' EXIT
url=""
for _ in $(seq 1 120); do
  url=$(grep -o 'http://[0-9.]*:[0-9]*/graphql' "$log" | head -1 || true)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "npm start exited early" >&2; exit 1; }
  sleep 0.5
done
[ -n "$url" ] || { cat "$log"; echo "npm start did not listen within 60 s" >&2; exit 1; }
base=${url%/graphql}
curl -fsS "$base/health" | grep -q '"status":"ok"'
curl -fsS -H 'content-type: application/json' \
  -d '{"query":"mutation { createDatabase(input: { name: \"smoke\" }) { seq } }"}' "$url" | grep -q '"seq":1'
curl -fsS -H 'content-type: application/json' \
  -d '{"query":"{ database(name: \"smoke\", minSeq: 1) { name seq } }"}' "$url" | grep -q '"name":"smoke"'
kill -TERM -- -$pid
for _ in $(seq 1 60); do
  pgrep -g $pid >/dev/null || break
  sleep 0.25
done
if pgrep -g $pid >/dev/null; then echo "npm start did not stop within 15 s of SIGTERM" >&2; exit 1; fi
echo "smoke: npm start served $url and stopped"

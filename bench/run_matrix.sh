#!/usr/bin/env bash
# Run every bench against a fresh hub and append the JSON lines to a file; stops whatever it started.
#
#   bench/run_matrix.sh embedded results.jsonl          # SQLite file, `omniman serve` (worker inside)
#   bench/run_matrix.sh pg results.jsonl                # PostgreSQL + Redis: `omniman serve --workers 2`,
#                                                       # one `omniman worker --processes 1`, and a 1-process web
#                                                       # server for the stream bench (1,000 sockets on ONE process)
# Environment: RUNS (default 3), CODE (a checkout of the hub to run, default this repository: point it at an older
# worktree to measure "before"), PYTHON (default this repository's .venv), PG (default postgresql://postgres@127.0.0.1:5432),
# REDIS (default redis://127.0.0.1:6379/0), ONLY (e.g. "checkout stream"), STREAM_LEVELS (default 1,100,1000),
# STREAM_CLIENTS (processes the displays are spread over, default 2: real displays are separate machines).
set -euo pipefail
SETUP=${1:?embedded or pg}
OUT=$(realpath -m "${2:?output file}")
HERE=$(cd "$(dirname "$0")" && pwd)
CODE=$(realpath "${CODE:-$HERE/..}")
PYTHON=${PYTHON:-$HERE/../.venv/bin/python}
RUNS=${RUNS:-3}
ONLY=${ONLY:-checkout stream directives}
LEVELS=${STREAM_LEVELS:-1,100,1000}
STREAM_CLIENTS=${STREAM_CLIENTS:-2}
PG=${PG:-postgresql://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379/0}
WORK=$(mktemp -d /tmp/omniman-bench.XXXXXX)
PIDS=()
PORT_WEB=${PORT_WEB:-8310}
PORT_ONE=${PORT_ONE:-8311}

stop_all() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

omniman() { (cd "$CODE" && "$PYTHON" -m omniman_gql.cli "$@"); }  # the hub of $CODE, not the installed one
wait_up() { for _ in $(seq 150); do curl -sf "localhost:$1/health" >/dev/null && return 0; sleep 0.2; done; echo "no server on $1" >&2; return 1; }
serve() {  # port workers logfile
  (cd "$CODE" && exec "$PYTHON" -m omniman_gql.cli serve --port "$1" --workers "$2" --log-level warning) >"$3" 2>&1 &
  PIDS+=($!); wait_up "$1"; LAST=$!
}
bench() { (cd "$HERE" && "$PYTHON" "$@") | tee -a "$OUT"; }

if [ "$SETUP" = embedded ]; then
  export OMNIMAN_DATABASE_URL="sqlite:///$WORK/omniman.db"
  unset OMNIMAN_REDIS_URL
else
  DB="omniman_bench_$$"
  psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
  trap 'stop_all; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null; rm -rf "$WORK"' EXIT
  export OMNIMAN_DATABASE_URL="$PG/$DB" OMNIMAN_REDIS_URL="$REDIS" OMNIMAN_BROKER_NAMESPACE="omniman-bench-$$"
fi
# One bench token does the work of hundreds of tills: its rates are raised far past the defaults (a busy POS), and
# kept on, so that the limiter's cost (one Redis round trip, or a dict operation, per request) is in every figure.
export OMNIMAN_RATE_LIMIT_MODIFY=100000000/hour OMNIMAN_RATE_LIMIT_COMMIT=100000000/hour OMNIMAN_RATE_LIMIT_READ=100000000/hour
omniman migrate >/dev/null
TOKEN=$(omniman token create --role admin --name bench 2>/dev/null | tail -1 || true)  # older hubs had no tokens
AUTH=(); [ -n "$TOKEN" ] && AUTH=(--token "$TOKEN")
echo "# $SETUP $(date -u +%FT%TZ) code=$(git -C "$CODE" rev-parse --short HEAD) load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2

if [ "$SETUP" = embedded ]; then
  serve "$PORT_WEB" 1 "$WORK/web.log"; WEB=$LAST; WORKER=$WEB
else
  serve "$PORT_WEB" 2 "$WORK/web.log"; WEB=$LAST
  (cd "$CODE" && exec "$PYTHON" -m omniman_gql.cli worker --processes 1 --threads 8) >"$WORK/worker.log" 2>&1 &
  PIDS+=($!); WORKER=$!; sleep 5
fi
URL="http://127.0.0.1:$PORT_WEB/graphql"

for _ in $(seq "$RUNS"); do
  if [[ " $ONLY " == *" checkout "* ]]; then
    for c in 8 32; do bench checkout.py --url "$URL" "${AUTH[@]}" -c "$c" -d 10 --server-pid "$WEB"; done
  fi
  if [[ " $ONLY " == *" directives "* ]]; then
    bench directives.py --url "$URL" "${AUTH[@]}" --orders 30 --rate 2 --burst-orders 40 --per-order 50 \
      --worker-pid "$WORKER"
  fi
done
if [[ " $ONLY " == *" stream "* ]]; then
  [ "$SETUP" = embedded ] && stop_all  # one process on the SQLite file; the pg worker may keep running
  for _ in $(seq "$RUNS"); do
    # A fresh single web process each run: its RSS before and after the sockets is the memory they cost.
    serve "$PORT_ONE" 1 "$WORK/one.log"; ONE_PID=$LAST
    bench stream.py --url "http://127.0.0.1:$PORT_ONE/graphql" "${AUTH[@]}" --subscribers "$LEVELS" --events 30 \
      --client-processes "$STREAM_CLIENTS" \
      --server-pid "$ONE_PID"
    kill "$ONE_PID"; for _ in $(seq 100); do kill -0 "$ONE_PID" 2>/dev/null || break; sleep 0.2; done
  done
fi

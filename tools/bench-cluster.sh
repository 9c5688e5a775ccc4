#!/usr/bin/env bash
# Runs `sotto bench throughput` against N relay nodes on a fresh PostgreSQL database, with
# Redis when N > 1 (or when REDIS=1). Extra arguments go to `sotto bench throughput`.
#
#   tools/bench-cluster.sh NODES [bench args…]
#   SOTTO=target/release/sotto PG=postgres://postgres@127.0.0.1:5432/test \
#     REDIS_URL=redis://127.0.0.1:6379 tools/bench-cluster.sh 3 --messages 50000
#
# The database is created as sotto_bench_<random> and dropped at the end.
set -euo pipefail
nodes="${1:?usage: bench-cluster.sh NODES [bench args]}"
shift
sotto="${SOTTO:-target/release/sotto}"
pg="${PG:-postgres://postgres@127.0.0.1:5432/test}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
use_redis="${REDIS:-$([ "$nodes" -gt 1 ] && echo 1 || echo 0)}"

db="sotto_bench_$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
psql "$pg" -qc "CREATE DATABASE $db"
db_url="${pg%/*}/$db"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

urls=()
for i in $(seq 1 "$nodes"); do
  args=(serve --listen 127.0.0.1:0 --no-rate-limits --log warn --data-dir "$work/$i" --database "$db_url")
  [ "$use_redis" = 1 ] && args+=(--redis "$redis_url")
  "$sotto" "${args[@]}" > "$work/$i.out" &
  pids+=("$!")
  for _ in $(seq 1 100); do grep -q "listening on" "$work/$i.out" && break; sleep 0.1; done
  urls+=("$(sed -n 's/^listening on //p' "$work/$i.out")")
done
joined="$(IFS=,; echo "${urls[*]}")"
"$sotto" bench throughput --server "$joined" --server-pid "${pids[0]}" "$@"

#!/usr/bin/env bash
# Single-client POST /query latency, two versions of the code side by side: one server runs the
# code in BEFORE (a `git worktree add` of an older commit, put first on PYTHONPATH), the other this
# checkout, both on one index; `hey -n 300 -c 1` alternates between them ROUNDS times and prints
# each round's p50. Loopback only; both servers are stopped at the end.
#
#   git worktree add /tmp/before <commit>
#   eval/ab_query.sh /tmp/before index/eval/corpus-af7874b7-full 6
set -euo pipefail
BEFORE=${1:?usage: eval/ab_query.sh BEFORE_DIR [INDEX] [ROUNDS]}
INDEX=${2:-index/default}
ROUNDS=${3:-6}
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
PYTHONPATH=$BEFORE QA_INDEX_DIR=$INDEX qa serve --port 8701 >/tmp/ab-before.log 2>&1 &
B=$!
PYTHONPATH=$HERE QA_INDEX_DIR=$INDEX qa serve --port 8702 >/tmp/ab-after.log 2>&1 &
A=$!
trap 'kill $A $B 2>/dev/null; wait' EXIT
for port in 8701 8702; do
  for _ in $(seq 300); do curl -sf "127.0.0.1:$port/ready" >/dev/null && break; sleep 1; done
done
Q='{"question":"What is the recommended dose of pomalidomide?","k":5}'
for port in 8701 8702; do hey -n 200 -c 1 -m POST -T application/json -d "$Q" "http://127.0.0.1:$port/query" >/dev/null; done
for round in $(seq "$ROUNDS"); do
  for port in 8701 8702; do
    name=$([ $port = 8701 ] && echo before || echo after)
    p50=$(hey -n 300 -c 1 -m POST -T application/json -d "$Q" "http://127.0.0.1:$port/query" | awk '/50% in/ {print $3 * 1000}')
    echo "round $round $name p50 $p50 ms"
  done
done

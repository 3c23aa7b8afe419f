#!/usr/bin/env bash
# Instructions per unit of work, counted by valgrind's callgrind, for
# comparing two trees where timed runs on a noisy host cannot tell them apart:
#   pipeline [passes]    the agent's pipeline on the benchmark's mixed traffic,
#                        per packet (default 40 passes; ~3 min on two cores;
#                        needs the shared captures; HARK_FRAME_MEMO=off: without
#                        the native frame memo, whose instructions count too)
#   ingest [messages]    the aggregator's ingest core (schema check, WAL
#                        fsync, merge, alerts, Parquet history worker) on the
#                        mqtt-throughput benchmark's messages, per observation
#                        (default 400 messages; ~6 min on two cores)
# The count is the harness's with N units of work minus its count when it
# prepares the same N and does none (--none): start-up, loading, making the
# inputs and warm-up cancel out. V8's --predictable (with fixed
# seeds, one thread for V8's own work) makes it repeat to ~0.1%; without it,
# GC timing follows the wall clock and the same tree moved by 5%. Every
# thread is counted (the history worker's too). Needs valgrind and `make build`.
# The ingest count still follows timing: how many messages share a WAL fsync
# and a worker batch depends on how fast each thread runs. Count on an idle
# machine: one tree gave 143,795 per observation beside builds and tests on
# the other core, and 99,542 alone.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (Debian: apt-get install valgrind)" >&2; exit 1; }
case "${1:-}" in
  pipeline) harness=test/dist/bench/pipeline-passes.js; n="${2:-40}" ;;
  ingest) harness=test/dist/bench/ingest-passes.js; n="${2:-400}" ;;
  *) echo "usage: hack/instructions.sh pipeline [passes] | ingest [messages]" >&2; exit 2 ;;
esac
[ -f "$harness" ] || { echo "run make build first ($harness is missing)" >&2; exit 1; }
count() {
  local out="$1"
  shift
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    node --predictable --single-threaded --hash-seed=1 --random-seed=1 --expose-gc "$harness" "$@" 2>"$out.err" >"$out.out" || {
    cat "$out.err" >&2
    exit 1
  }
  grep -o 'Collected : [0-9,]*' "$out.err" | tr -dc '0-9' >"$out.count"
}
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
count "$scratch/none" "$n" --none &
count "$scratch/some" "$n" &
wait
read -r unit units < <(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.unit, r.units)' "$scratch/some.out")
none="$(cat "$scratch/none.count")"
some="$(cat "$scratch/some.count")"
echo "instructions per $unit: $(((some - none) / units)) ($1, $n: $units ${unit}s)"

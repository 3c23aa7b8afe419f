#!/usr/bin/env bash
# Instructions per packet of the agent's pipeline on the benchmark's mixed
# traffic, counted by valgrind's callgrind: the count for 40 passes minus the
# count for none (start-up, loading the captures and warm-up cancel out).
# V8's --predictable (with fixed seeds, one thread) makes the count repeat to
# ~0.1%; without it, GC timing follows the wall clock and the same tree moved
# by 5%. For comparing two trees of the agent where timed runs on a noisy host
# cannot tell them apart. Needs valgrind, the shared captures and `make build`.
#   hack/pipeline-instructions.sh [passes]   (default 40; ~3 min on two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (Debian: apt-get install valgrind)" >&2; exit 1; }
passes="${1:-40}"
harness=test/dist/bench/pipeline-passes.js
[ -f "$harness" ] || { echo "run make build first ($harness is missing)" >&2; exit 1; }
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    node --predictable --single-threaded --hash-seed=1 --random-seed=1 "$harness" "$1" 2>"$2.err" >"$2.out" || {
    cat "$2.err" >&2
    exit 1
  }
  grep -o 'Collected : [0-9,]*' "$2.err" | tr -dc '0-9' >"$2.count"
}
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
count 0 "$scratch/none" &
count "$passes" "$scratch/some" &
wait
per_pass="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).packetsPerPass)' "$scratch/some.out")"
none="$(cat "$scratch/none.count")"
some="$(cat "$scratch/some.count")"
echo "instructions per packet: $(((some - none) / (passes * per_pass))) ($passes passes of $per_pass packets)"

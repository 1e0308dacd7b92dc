#!/usr/bin/env bash
# Benchmark of `mreg ui` on the benchmark registry (100 models x 100 versions, 10,000 versions,
# ~10,000 commits): whole-request latency of each page type with wrk (one connection, so each
# figure is one request after the other), against the target of 50 ms per page.
# BENCH_DIR keeps the generated registry between runs; DURATION sets wrk's seconds per page.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/setup.sh
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
swift build -c release --product mreg >/dev/null
M="$PWD/.build/release/mreg"
WORK="${BENCH_DIR:-$(mktemp -d)}"
REG="$WORK/registry"
if [ ! -d "$REG/.git" ]; then
  echo "generating the registry in $REG" >&2
  python3 scripts/bench/gen_registry.py "$REG" 100 100
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "registry: $(git -C "$REG" rev-list --count HEAD) commits, $(find "$REG/models" -name version.yaml | wc -l) versions"
"$M" ui --registry "$REG" --port 0 > "$WORK/ui.out" 2> "$WORK/ui.err" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q '^listening on ' "$WORK/ui.out" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^listening on //p' "$WORK/ui.out")"
[ -n "$BASE" ] || { echo "mreg ui did not start: $(cat "$WORK/ui.err")" >&2; exit 1; }
# The first request of each page fills the derived caches, as the first `mreg list` would.
page() {
  local name="$1" path="$2"
  local cold
  cold=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$BASE$path")
  [ "${cold%% *}" = 200 ] || { echo "$name: $BASE$path answered ${cold%% *}" >&2; exit 1; }
  local out
  out=$(wrk -t1 -c1 -d"${DURATION:-5}"s --latency "$BASE$path")
  printf '%-12s %-44s first %6.1f ms   avg %8s   p50 %8s   p99 %8s   %s req/s\n' "$name" "$path" \
    "$(echo "${cold#* } * 1000" | bc -l)" \
    "$(echo "$out" | awk '/Latency/ && !/Distribution/ {print $2; exit}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
}
page overview "/"
page model "/models/m042/"
page version "/models/m042/v57/"
page compare "/compare?v=m042@v57&v=m042@v99&v=m017@v3"
page environment "/environments/production/"
page drift-index "/drift/"

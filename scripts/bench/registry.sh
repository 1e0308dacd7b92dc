#!/usr/bin/env bash
# Benchmark of the registry commands on 100 models x 100 versions (10,000 versions, ~10,000 commits).
# Whole-process times (hyperfine), median; targets from the foundation and promotion issues.
# BENCH_DIR keeps the generated registry between runs; RUNS sets the number of timed runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/setup.sh
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
# A static Swift runtime starts faster (a ~9 ms process instead of ~19 ms); FoundationNetworking then
# links libcurl, hence libcurl4-openssl-dev.
[ -e /usr/lib/x86_64-linux-gnu/libcurl.so ] || apt-get install -y -qq libcurl4-openssl-dev >/dev/null
swift build -c release --static-swift-stdlib --product mreg >/dev/null
M="$PWD/.build/release/mreg"
WORK="${BENCH_DIR:-$(mktemp -d)}"
REG="$WORK/registry"
if [ ! -d "$REG/.git" ]; then
  echo "generating the registry in $REG" >&2
  python3 scripts/bench/gen_registry.py "$REG" 100 100
fi
if [ -n "${BASELINE:-}" ]; then
  BASE_REG="$WORK/registry-baseline"
  rm -rf "$BASE_REG" && cp -a "$REG" "$BASE_REG" && rm -rf "$BASE_REG/.git/mreg"
fi
cd "$REG"
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$WORK/art" && echo '{"w": [1, 2, 3]}' > "$WORK/art/model.json" && echo '{"accuracy": 0.9}' > "$WORK/art/metrics.json"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "registry: $(git rev-list --count HEAD) commits, $(find models -name version.yaml | wc -l) versions"

# run NAME PREPARE COMMAND: median, min and max of RUNS whole-process runs. COMMAND names the binary
# as MREG; with BASELINE=/path/to/an/older/mreg each row also runs that binary, in the same run.
run() {
  local name="$1" prepare="$2"; shift 2
  local line="$name"
  for bin in "$M" ${BASELINE:+"$BASELINE"}; do
    local args=(-N --warmup 3 --runs "${RUNS:-30}" --export-json "$WORK/h.json")
    [ -n "$prepare" ] && args+=(--prepare "$prepare")
    # Each binary on its own copy of the registry: their derived caches may differ in format.
    local dir="$REG"
    [ "$bin" != "$M" ] && dir="$BASE_REG"
    (cd "$dir" && hyperfine "${args[@]}" "${*//MREG/$bin}" >/dev/null 2>&1)
    line="$line|$(python3 - "$WORK/h.json" <<'PY'
import json, sys, statistics
r = json.load(open(sys.argv[1]))["results"][0]["times"]
print("median %7.1f ms  min %7.1f ms" % (statistics.median(r) * 1000, min(r) * 1000))
PY
)"
  done
  IFS='|' read -r -a parts <<< "$line"
  printf '%-28s %s' "${parts[0]}" "${parts[1]}"
  [ -n "${BASELINE:-}" ] && printf '   baseline: %s' "${parts[2]}"
  printf '\n'
}
run "mreg --version (startup)" "" "MREG --version"
run "mreg list" "" "MREG list"
run "mreg list MODEL" "" "MREG list m042"
run "mreg show MODEL@VERSION" "" "MREG show m042@v57"
run "mreg show MODEL@ENV" "" "MREG show m042@production"
run "mreg history MODEL" "" "MREG history m042"
run "mreg status" "" "MREG status"
run "mreg register" "" "MREG register m001 --from $WORK/art"
run "mreg promote (no push)" "git update-ref -d refs/heads/bench-promote" \
  "MREG promote m007@v96 --to staging --branch bench-promote --force --reason bench"
RUNS=5 run "mreg verify" "" "MREG verify"

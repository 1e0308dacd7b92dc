#!/usr/bin/env bash
# Reconciler benchmark: push-to-serving latency at --interval 1s, CPU of an idle reconciler, and
# what a no-change pass costs the remote (connections seen by git daemon).
#
#   scripts/bench/reconcile.sh [--pushes 10] [--idle 60]
#
# Uses .build/release/mreg when built (swift build -c release --product mreg), else the debug one.
# Everything runs on 127.0.0.1 and is stopped on exit. Figures go to stdout (docs/benchmarks-reconcile.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
PUSHES=10 IDLE=60
while [ $# -gt 0 ]; do
  case "$1" in
    --pushes) PUSHES=$2; shift ;;
    --idle) IDLE=$2; shift ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
MREG=${MREG:-$PWD/.build/release/mreg}
[ -x "$MREG" ] || MREG=$PWD/.build/debug/mreg
WORK=$(mktemp -d /tmp/mreg-bench-rec-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 MREG_REGISTRY=
G=(git -c user.name=Bench -c user.email=bench@example.com -c init.defaultBranch=main)
DATA=$PWD/templates/files/data/penguins.csv

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "binary: $MREG"
"$MREG" init "$WORK/reg" >/dev/null
(cd "$WORK/reg" && for a in logistic mlp; do "$MREG" train penguins --data "$DATA" --target species --algorithm $a >/dev/null; done)
manifest() { printf 'schemaVersion: 1\nenvironment: production\nmodels:\n  penguins:\n    version: %s\n' "$1" > "$WORK/reg/deploy/production.yaml"; }
manifest v1
(cd "$WORK/reg" && "${G[@]}" add -A && "${G[@]}" commit -qm "v1")
mkdir -p "$WORK/srv" "$WORK/store" && "${G[@]}" clone -q --bare "$WORK/reg" "$WORK/srv/registry.git"
GITPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$(git --exec-path)/git-daemon" --export-all --enable=receive-pack --reuseaddr --verbose --base-path="$WORK/srv" --port="$GITPORT" --listen=127.0.0.1 "$WORK/srv" 2>"$WORK/daemon.log" &
PIDS+=($!)
"$MREG" serve --store "$WORK/store" --port 0 > "$WORK/serve.out" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
SERVER=$(sed -n 's/^listening on //p' "$WORK/serve.out")
REPO=git://127.0.0.1:$GITPORT/registry.git

start_reconciler() {  # interval
  "$MREG" reconcile --repo "$REPO" --env production --host bench --server "$SERVER" --store "$WORK/store" \
    --interval "$1" --listen 127.0.0.1:0 > "$WORK/reconcile.out" 2>"$WORK/reconcile.err" &
  RPID=$!
  PIDS+=($RPID)
  for _ in $(seq 100); do grep -q "status on" "$WORK/reconcile.out" 2>/dev/null && break; sleep 0.05; done
  STATUS=$(sed -n 's/^status on //p' "$WORK/reconcile.out")
}
served() { curl -s -X POST "$SERVER/v2/repository/index" -d '{}' | python3 -c "import json,sys; print(next((r['version'] for r in json.load(sys.stdin) if r.get('role')=='stable'), ''))"; }
metric() { curl -s "$STATUS/metrics" | awk -v m="$1" '$1 ~ "^"m"[{]" {s+=$2} END {print s+0}'; }

# 1. Latency at --interval 1s.
start_reconciler 1s
until [ "$(served)" = v1 ]; do sleep 0.05; done
TIMES=()
for i in $(seq 1 "$PUSHES"); do
  if [ $((i % 2)) -eq 1 ]; then want=v2; else want=v1; fi
  manifest $want
  (cd "$WORK/reg" && "${G[@]}" commit -qam "push $i" && "${G[@]}" push -q "$REPO" main)
  t0=$(date +%s.%N)
  until [ "$(served)" = "$want" ]; do sleep 0.01; done
  TIMES+=("$(python3 -c "print($(date +%s.%N) - $t0)")")
  sleep 0.$((RANDOM % 10))
done
python3 - "${TIMES[@]}" <<'PY'
import statistics, sys
t = sorted(float(x) for x in sys.argv[1:])
print(f"push to serving at --interval 1s: median {statistics.median(t):.3f} s, min {t[0]:.3f} s, max {t[-1]:.3f} s over {len(t)} pushes")
PY

# 2 and 3. Idle: CPU and what each pass asks of the remote.
idle() {  # interval label
  sleep 2
  local p0 a0 f0 c0 t0 ticks
  p0=$(metric mreg_reconcile_passes_total); a0=$(metric mreg_reconcile_ref_advertisements_total); f0=$(metric mreg_reconcile_fetches_total)
  c0=$(grep -c "Connection from" "$WORK/daemon.log" || true)
  t0=$(awk '{print $14 + $15}' /proc/$RPID/stat)
  sleep "$IDLE"
  ticks=$(( $(awk '{print $14 + $15}' /proc/$RPID/stat) - t0 ))
  local p1 a1 f1 c1
  p1=$(metric mreg_reconcile_passes_total); a1=$(metric mreg_reconcile_ref_advertisements_total); f1=$(metric mreg_reconcile_fetches_total)
  c1=$(grep -c "Connection from" "$WORK/daemon.log" || true)
  python3 -c "
hz = $(getconf CLK_TCK); cpu = $ticks / hz; passes = $p1 - $p0
print(f'idle at --interval $1: {cpu:.2f} s CPU in $IDLE s = {100 * cpu / $IDLE:.3f}% of one core; {passes:.0f} passes, '
      f'{($a1 - $a0) / max(passes, 1):.2f} ref advertisements and {($f1 - $f0) / max(passes, 1):.2f} fetches per pass, '
      f'{($c1 - $c0) / max(passes, 1):.2f} connections per pass at the git daemon')"
}
idle 1s
kill "$RPID"; wait "$RPID" 2>/dev/null || true
start_reconciler 30s
idle 30s

#!/usr/bin/env bash
# A fleet of 3 serving hosts, each with its own `mreg serve` and `mreg reconcile`, following one
# registry on a git daemon; measures the time from a push to every host serving the new version.
#
#   scripts/fleet.sh [--netns|--loopback] [--hosts N] [--interval 1s] [--rounds 3]
#
# --netns (default when `ip netns` works and we are root): each host in its own network namespace
# made here (mreg-fleet-N), joined to this one by a veth pair on 10.213.N.0/30; the server listens
# on the namespace's own 127.0.0.1, the reconciler's status on 10.213.N.2:9090. --loopback: all on
# 127.0.0.1 with separate ports. Everything started is stopped, and the namespaces removed, on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=auto HOSTS=3 INTERVAL=1s ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --netns) MODE=netns ;;
    --loopback) MODE=loopback ;;
    --hosts) HOSTS=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    *) echo "fleet: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$MODE" = auto ]; then
  if [ "$(id -u)" -eq 0 ] && ip netns add mreg-fleet-probe 2>/dev/null; then ip netns del mreg-fleet-probe; MODE=netns; else MODE=loopback; fi
fi
MREG=${MREG:-$PWD/.build/release/mreg}
[ -x "$MREG" ] || MREG=$PWD/.build/debug/mreg
[ -x "$MREG" ] || { echo "fleet: build mreg first (swift build)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/mreg-fleet-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$MODE" = netns ]; then
    for i in $(seq 1 "$HOSTS"); do ip netns del "mreg-fleet-$i" 2>/dev/null || true; ip link del "mreg-veth$i" 2>/dev/null || true; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 MREG_REGISTRY=
G=(git -c user.name=Fleet -c user.email=fleet@example.com -c init.defaultBranch=main)
now() { date +%s.%N; }

# The registry: penguins v1 (logistic) and v2 (mlp), v1 in production.
"$MREG" init "$WORK/reg" >/dev/null
DATA=$PWD/templates/files/data/penguins.csv
(cd "$WORK/reg" && for a in logistic mlp; do "$MREG" train penguins --data "$DATA" --target species --algorithm $a >/dev/null; done)
manifest() { printf 'schemaVersion: 1\nenvironment: production\nmodels:\n  penguins:\n    version: %s\n' "$1" > "$WORK/reg/deploy/production.yaml"; }
manifest v1
(cd "$WORK/reg" && "${G[@]}" add -A && "${G[@]}" commit -qm "v1 to production")
mkdir -p "$WORK/srv" && "${G[@]}" clone -q --bare "$WORK/reg" "$WORK/srv/registry.git"

GITPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LISTEN=(--listen=127.0.0.1)
STATUS=()
if [ "$MODE" = netns ]; then
  for i in $(seq 1 "$HOSTS"); do
    ns=mreg-fleet-$i
    ip netns add "$ns"
    ip link add "mreg-veth$i" type veth peer name eth0 netns "$ns"
    ip addr add "10.213.$i.1/30" dev "mreg-veth$i" && ip link set "mreg-veth$i" up
    ip -n "$ns" addr add "10.213.$i.2/30" dev eth0 && ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up
    LISTEN+=(--listen="10.213.$i.1")
  done
fi
"$(git --exec-path)/git-daemon" --export-all --reuseaddr --base-path="$WORK/srv" --port="$GITPORT" "${LISTEN[@]}" "$WORK/srv" 2>/dev/null &
PIDS+=($!)
sleep 0.3

for i in $(seq 1 "$HOSTS"); do
  mkdir -p "$WORK/h$i/store"
  if [ "$MODE" = netns ]; then
    run=(ip netns exec "mreg-fleet-$i"); repo="git://10.213.$i.1:$GITPORT/registry.git"; sport=8080; listen="10.213.$i.2:9090"
  else
    run=(); repo="git://127.0.0.1:$GITPORT/registry.git"; sport=0; listen="127.0.0.1:0"
  fi
  "${run[@]}" "$MREG" serve --store "$WORK/h$i/store" --port "$sport" > "$WORK/h$i/serve.out" 2>"$WORK/h$i/serve.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q listening "$WORK/h$i/serve.out" 2>/dev/null && break; sleep 0.05; done
  server=$(sed -n 's/^listening on //p' "$WORK/h$i/serve.out")
  "${run[@]}" "$MREG" reconcile --repo "$repo" --env production --host "host-$i" --server "$server" --store "$WORK/h$i/store" \
    --interval "$INTERVAL" --listen "$listen" > "$WORK/h$i/reconcile.out" 2>"$WORK/h$i/reconcile.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "status on" "$WORK/h$i/reconcile.out" 2>/dev/null && break; sleep 0.05; done
  STATUS+=("$(sed -n 's/^status on //p' "$WORK/h$i/reconcile.out")")
done
HOSTLIST=$(IFS=,; echo "${STATUS[*]}")
echo "fleet: $HOSTS hosts ($MODE), interval $INTERVAL; status: $HOSTLIST"

converged_on() {  # every host has applied $1 and converged
  for url in "${STATUS[@]}"; do
    curl -s --max-time 2 "$url/status" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['appliedCommit']=='$1' and d['converged'] else 1)" || return 1
  done
}
wait_converged() {
  local deadline=$(( $(date +%s) + 60 ))
  until converged_on "$1"; do [ "$(date +%s)" -lt "$deadline" ] || { echo "fleet: not converged on $1" >&2; "$MREG" status --hosts "$HOSTLIST" >&2 || true; exit 1; }; sleep 0.02; done
}
wait_converged "$(git -C "$WORK/srv/registry.git" rev-parse main)"
TIMES=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then manifest v2; else manifest v1; fi
  (cd "$WORK/reg" && "${G[@]}" commit -qam "round $r" && "${G[@]}" push -q "$WORK/srv/registry.git" main)
  start=$(now)
  wait_converged "$(git -C "$WORK/srv/registry.git" rev-parse main)"
  t=$(python3 -c "print(f'{$(now) - $start:.3f}')")
  TIMES+=("$t")
  echo "round $r: all $HOSTS hosts serving the new commit ${t}s after the push"
done
"$MREG" status --hosts "$HOSTLIST"
python3 -c "import statistics,sys; t=[float(x) for x in sys.argv[1:]]; print(f'push to all hosts serving: median {statistics.median(t):.3f}s, max {max(t):.3f}s over {len(t)} rounds')" "${TIMES[@]}"

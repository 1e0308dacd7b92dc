#!/usr/bin/env bash
# Soak: WRITERS clones (default 16) promote at once against one shared bare remote, for DURATION
# seconds (default 20) per transport: a plain path, file://, git:// (git daemon) and http://
# (git http-backend). Each writer loops: sync with the remote, `mreg promote ... --merge --push`,
# and on success records the commit it pushed. Reports per transport: attempts, landed pushes and
# lost updates (a push that reported success but whose commit is not in the remote's main at the
# end). lost must be 0. Bounded in time; every server binds 127.0.0.1 and stops with the script.
#   scripts/soak/concurrent-writers.sh [MREG_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
M="${1:-$PWD/.build/release/mreg}"
[ -x "$M" ] || { echo "build mreg first (swift build -c release --product mreg) or pass its path" >&2; exit 2; }
WRITERS="${WRITERS:-16}"
DURATION="${DURATION:-20}"
WORK="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export GIT_AUTHOR_NAME=Soak GIT_AUTHOR_EMAIL=soak@example.com GIT_COMMITTER_NAME=Soak GIT_COMMITTER_EMAIL=soak@example.com
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The seed registry: penguins v1 serving staging, v2 registered, pushed to each transport's remote.
seed="$WORK/seed"
"$M" init "$seed" --ci none >/dev/null
mkdir -p "$WORK/art"
echo '{"accuracy": 0.9}' > "$WORK/art/metrics.json"
for i in 1 2; do echo "weights $i" > "$WORK/art/model.bin"; "$M" register penguins --from "$WORK/art" --registry "$seed" >/dev/null; done
(cd "$seed" && "$M" promote penguins@v1 --to staging --merge >/dev/null)
mkdir -p "$WORK/srv"

run_transport() {
    local name="$1" url="$2" bare="$3"
    git clone -q --bare "$seed" "$bare"
    local dir="$WORK/$name"
    mkdir -p "$dir"
    for w in $(seq 1 "$WRITERS"); do git clone -q "$url" "$dir/w$w" 2>/dev/null; done
    local end=$(( $(date +%s) + DURATION ))
    local writers=()
    for w in $(seq 1 "$WRITERS"); do
        (
            cd "$dir/w$w"
            attempts=0
            while [ "$(date +%s)" -lt "$end" ]; do
                attempts=$((attempts + 1))
                git fetch -q origin main 2>/dev/null && git reset -q --hard origin/main 2>/dev/null || continue
                weight=$(( (RANDOM % 98) + 1 ))
                if "$M" promote penguins@v2 --to staging --canary "$weight" --merge --push origin >/dev/null 2>&1; then
                    git rev-parse HEAD >> "$dir/landed-w$w"
                fi
            done
            echo "$attempts" > "$dir/attempts-w$w"
        ) &
        writers+=($!)
    done
    wait "${writers[@]}"
    local attempts=0 landed=0 lost=0
    for w in $(seq 1 "$WRITERS"); do attempts=$((attempts + $(cat "$dir/attempts-w$w" 2>/dev/null || echo 0))); done
    local final; final="$(git -C "$bare" rev-parse main)"
    if compgen -G "$dir/landed-w*" >/dev/null; then
        while read -r c; do
            landed=$((landed + 1))
            git -C "$bare" merge-base --is-ancestor "$c" "$final" 2>/dev/null || lost=$((lost + 1))
        done < <(cat "$dir"/landed-w*)
    fi
    local fsck=ok; git -C "$bare" fsck --strict >/dev/null 2>&1 || fsck=FAILED
    printf '%-8s writers %2d  %3ds  attempts %5d  landed %4d  lost %d  fsck %s\n' "$name" "$WRITERS" "$DURATION" "$attempts" "$landed" "$lost" "$fsck"
    [ "$lost" -eq 0 ] && [ "$fsck" = ok ]
}

status=0
run_transport path "$WORK/srv/path.git" "$WORK/srv/path.git" || status=1
run_transport file "file://$WORK/srv/file.git" "$WORK/srv/file.git" || status=1

port=$(free_port)
git daemon --export-all --enable=receive-pack --base-path="$WORK/srv" --listen=127.0.0.1 --port="$port" --reuseaddr "$WORK/srv" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
run_transport git "git://127.0.0.1:$port/daemon.git" "$WORK/srv/daemon.git" || status=1

mkfifo "$WORK/http.in"
python3 scripts/testing/git_http_server.py --root "$WORK/srv" --lifetime $((DURATION * 4 + 120)) < "$WORK/http.in" > "$WORK/http.out" 2>/dev/null &
pids+=($!)
exec 4>"$WORK/http.in"
for _ in $(seq 100); do grep -q listening "$WORK/http.out" 2>/dev/null && break; sleep 0.05; done
hport=$(awk '/listening/ {print $2}' "$WORK/http.out")
run_transport http "http://127.0.0.1:$hport/http.git" "$WORK/srv/http.git" || status=1
exec 4>&-
exit $status

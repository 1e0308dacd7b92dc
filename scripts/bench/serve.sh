#!/usr/bin/env bash
# Benchmarks `mreg serve` on loopback with wrk: single-row inference on the penguins logistic model
# against a constant-response endpoint (GET /v2/health/live) of the same server, in alternating
# rounds; also start-up time and resident memory. The same server also serves two models of the same
# 20 numeric features, a logistic one (MregML) and a 100-tree XGBoost one (depth 6, trained in Python
# by scripts/bench/predict_bench.py and served as XGBoost wrote it), measured back to back in the same
# rounds; XGBoost's requests/s is reported as a share of the 20-feature logistic model's. Figures go
# to stdout as Markdown (docs/benchmarks-serve.md and docs/benchmarks.md record runs).
#
# Usage: scripts/bench/serve.sh [SECONDS_PER_ROUND] [ROUNDS]     (defaults: 10 and 3)
# Env:   CONNECTIONS (16), THREADS (wrk threads, 1), SKIP_BUILD=1 to reuse the release build, PYTHON
#        (an interpreter with xgboost and pandas; default: the parity tests' venv, made if missing),
#        DATA=DIR to reuse the files of `scripts/bench/predict_bench.py make DIR ROWS`.
# Needs: wrk (apt-get install -y wrk). Traffic goes to 127.0.0.1 only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_ROUND="${1:-10}"
ROUNDS="${2:-3}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-1}"

command -v wrk >/dev/null || { echo "serve.sh: needs wrk (apt-get install -y wrk)" >&2; exit 2; }
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    swift build -c release --product mreg >&2
    swift build -c release --product mreg-ml-bench >&2
fi
BIN="${BIN:-$(swift build -c release --show-bin-path)}"

WORK="$(mktemp -d /tmp/mreg-bench-serve.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The model: logistic regression on examples/penguins.csv, trained by MregML (mreg-ml-bench).
mkdir -p "$WORK/store/penguins/v1"
"$BIN/mreg-ml-bench" train --data examples/penguins.csv --target species --algorithm logistic \
    --model "$WORK/store/penguins/v1/model.json" >/dev/null
echo '{"schema": 1, "version": "v1"}' >"$WORK/store/penguins/serving.json"

# Two models of the same 20 numeric features: logistic (MregML) and XGBoost (100 trees, as Python saved it).
if [[ -z "${PYTHON:-}" ]]; then
    VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mreg-test-venvs/$(sha256sum Tests/requirements-ml.txt | cut -c1-64)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV.tmp-$$" >&2
        "$VENV.tmp-$$/bin/python" -m pip install --quiet --disable-pip-version-check -r Tests/requirements-ml.txt >&2
        mv "$VENV.tmp-$$" "$VENV"
    fi
    PYTHON="$VENV/bin/python"
fi
if [[ -n "${DATA:-}" ]]; then
    ln -s "$DATA/small.csv" "$DATA/xgb" "$WORK/"  # from an earlier `predict_bench.py make DATA ROWS`
else
    "$PYTHON" scripts/bench/predict_bench.py make "$WORK" 100000 >&2
fi
mkdir -p "$WORK/store/logit20/v1" "$WORK/store/xgb/v1"
"$BIN/mreg-ml-bench" train --data "$WORK/small.csv" --target label --algorithm logistic \
    --model "$WORK/store/logit20/v1/model.json" >/dev/null
cp "$WORK/xgb/model.json" "$WORK/store/xgb/v1/model.json"
echo '{"schema": 1, "version": "v1"}' >"$WORK/store/logit20/serving.json"
echo '{"schema": 1, "version": "v1"}' >"$WORK/store/xgb/serving.json"
BODY20="{\"id\":\"bench\",\"inputs\":[$(for i in $(seq 0 19); do printf '%s{"name":"f%d","datatype":"FP64","shape":[1],"data":[0.%d]}' "$([[ $i -gt 0 ]] && echo ,)" "$i" "$((i * 37 % 97 + 1))"; done)]}"
cat >"$WORK/infer20.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY20'
EOF

BODY='{"id":"bench","inputs":[{"name":"island","datatype":"BYTES","shape":[1],"data":["Biscoe"]},{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":[39.1]},{"name":"bill_depth_mm","datatype":"FP64","shape":[1],"data":[18.7]},{"name":"flipper_length_mm","datatype":"FP64","shape":[1],"data":[181]},{"name":"body_mass_g","datatype":"FP64","shape":[1],"data":[3750]},{"name":"sex","datatype":"BYTES","shape":[1],"data":["male"]},{"name":"year","datatype":"FP64","shape":[1],"data":[2007]}]}'
cat >"$WORK/infer.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
EOF

# Start-up: from exec to the "listening on" line (the store is loaded and warmed before it).
START_NS=$(date +%s%N)
"$BIN/mreg" serve --store "$WORK/store" --port 0 >"$WORK/out" 2>"$WORK/err" &
SERVER_PID=$!
for _ in $(seq 1 500); do
    grep -q "^listening on" "$WORK/out" 2>/dev/null && break
    sleep 0.01
done
READY_NS=$(date +%s%N)
ADDRESS="$(head -1 "$WORK/out" | sed 's/^listening on //')"
[[ "$ADDRESS" == http://127.0.0.1:* ]] || { echo "server did not start: $(cat "$WORK/err")" >&2; exit 1; }
STARTUP_MS=$(( (READY_NS - START_NS) / 1000000 ))
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
RSS_IDLE=$(rss)

# One check that inference answers before measuring it.
curl -sf -X POST -H 'Content-Type: application/json' -d "$BODY" "$ADDRESS/v2/models/penguins/infer" >"$WORK/answer" \
    || { echo "inference failed" >&2; exit 1; }
for m in logit20 xgb; do
    curl -sf -X POST -H 'Content-Type: application/json' -d "$BODY20" "$ADDRESS/v2/models/$m/infer" >"$WORK/answer-$m" \
        || { echo "inference on $m failed" >&2; exit 1; }
done

# wrk prints latencies as 512.00us, 1.20ms or 1.01s: to milliseconds.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.2f", v }'; }
# Server CPU time (user + system, in clock ticks) from /proc: CPU per request does not depend on what
# else the machine runs, unlike requests/s.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
TICKS_PER_S=$(getconf CLK_TCK)
measure() {  # wrk arguments; prints "rps p50 p99 errors cpu_us_per_request"
    local out c0 c1 n
    c0=$(cpu_ticks)
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_ROUND}s" --latency "$@")"
    c1=$(cpu_ticks)
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    local rps p50 p99 errors cpu
    rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out" | to_ms)
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms)
    errors=$(awk '/Non-2xx|Socket errors/ {sum += $NF} END {print sum + 0}' <<<"$out")
    cpu=$(awk -v a="$c0" -v b="$c1" -v n="$n" -v t="$TICKS_PER_S" 'BEGIN {printf "%.1f", (b - a) * 1e6 / t / n}')
    echo "$rps $p50 $p99 $errors $cpu"
}

LIVE="$ADDRESS/v2/health/live"
INFER="$ADDRESS/v2/models/penguins/infer"
# Warm-up (not counted).
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$LIVE" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$WORK/infer.lua" "$INFER" >/dev/null
for m in logit20 xgb; do wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$WORK/infer20.lua" "$ADDRESS/v2/models/$m/infer" >/dev/null; done

echo "| round | endpoint | requests/s | p50 ms | p99 ms | errors | server CPU µs/request | load avg |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
declare -a LIVE_RPS INFER_RPS INFER_P99 RATIOS CPU_RATIOS XGB_SHARES XGB_CPU_SHARES LOGIT20_RPS XGB_RPS
for r in $(seq 1 "$ROUNDS"); do
    read -r lrps lp50 lp99 lerr lcpu < <(measure "$LIVE")
    lload=$(cut -d' ' -f1 /proc/loadavg)
    read -r irps ip50 ip99 ierr icpu < <(measure -s "$WORK/infer.lua" "$INFER")
    iload=$(cut -d' ' -f1 /proc/loadavg)
    echo "| $r | GET /v2/health/live | $lrps | $lp50 | $lp99 | $lerr | $lcpu | $lload |"
    echo "| $r | POST /v2/models/penguins/infer | $irps | $ip50 | $ip99 | $ierr | $icpu | $iload |"
    LIVE_RPS+=("$lrps"); INFER_RPS+=("$irps"); INFER_P99+=("$ip99")
    RATIOS+=("$(awk -v a="$irps" -v b="$lrps" 'BEGIN {printf "%.2f", a / b}')")
    CPU_RATIOS+=("$(awk -v a="$icpu" -v b="$lcpu" 'BEGIN {printf "%.2f", b / a}')")
    # The 20-feature pair, back to back in the same round: XGBoost as a share of logistic.
    read -r grps gp50 gp99 gerr gcpu < <(measure -s "$WORK/infer20.lua" "$ADDRESS/v2/models/logit20/infer")
    gload=$(cut -d' ' -f1 /proc/loadavg)
    read -r xrps xp50 xp99 xerr xcpu < <(measure -s "$WORK/infer20.lua" "$ADDRESS/v2/models/xgb/infer")
    xload=$(cut -d' ' -f1 /proc/loadavg)
    echo "| $r | POST /v2/models/logit20/infer (logistic, 20 features) | $grps | $gp50 | $gp99 | $gerr | $gcpu | $gload |"
    echo "| $r | POST /v2/models/xgb/infer (XGBoost, 100 trees) | $xrps | $xp50 | $xp99 | $xerr | $xcpu | $xload |"
    LOGIT20_RPS+=("$grps"); XGB_RPS+=("$xrps")
    XGB_SHARES+=("$(awk -v a="$xrps" -v b="$grps" 'BEGIN {printf "%.2f", a / b}')")
    XGB_CPU_SHARES+=("$(awk -v a="$xcpu" -v b="$gcpu" 'BEGIN {printf "%.2f", b / a}')")
done
RSS_LOADED=$(rss)

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "- median inference: $(median "${INFER_RPS[@]}") requests/s, p99 $(median "${INFER_P99[@]}") ms ($CONNECTIONS connections, wrk -t$THREADS, ${SECONDS_PER_ROUND}s rounds)"
echo "- median constant endpoint: $(median "${LIVE_RPS[@]}") requests/s"
echo "- inference / constant requests/s, per round: ${RATIOS[*]} (median $(median "${RATIOS[@]}"))"
echo "- constant / inference server CPU per request, per round: ${CPU_RATIOS[*]} (median $(median "${CPU_RATIOS[@]}"))"
echo "- 20 features: logistic $(median "${LOGIT20_RPS[@]}") requests/s, XGBoost 100 trees $(median "${XGB_RPS[@]}") requests/s (medians)"
echo "- XGBoost / logistic requests/s, per round: ${XGB_SHARES[*]} (median $(median "${XGB_SHARES[@]}"); target >= 0.80)"
echo "- logistic / XGBoost server CPU per request, per round: ${XGB_CPU_SHARES[*]} (median $(median "${XGB_CPU_SHARES[@]}"))"
echo "- start-up to listening (store loaded, model warmed): ${STARTUP_MS} ms"
echo "- resident memory: ${RSS_IDLE} KiB idle after start, ${RSS_LOADED} KiB after the load"
echo "- machine: $(nproc) cores, load average before/after: $(cut -d' ' -f1-3 /proc/loadavg)"

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" && echo "- SIGTERM: exit 0" || echo "- SIGTERM: exit $?"
SERVER_PID=""

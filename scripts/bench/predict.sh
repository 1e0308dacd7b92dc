#!/usr/bin/env bash
# Benchmarks `mreg predict` (release build) on ROWS x 20 numeric features, CSV in and CSV out, for a
# logistic model (mreg train) and a 100-tree XGBoost model (trained in Python, registered as it is),
# side by side with XGBoost's own Python path on the same file (pandas read_csv, Booster.predict on all
# cores, DataFrame.to_csv) in the same run. Figures go to stdout as Markdown (docs/benchmarks.md
# records a run).
#
# Usage: scripts/bench/predict.sh [ROWS] [RUNS]       (defaults: 1000000 and 3; the best run counts)
# Env:   SKIP_BUILD=1 to reuse the release build (BIN: its folder, if not the default); PYTHON to use an interpreter that has xgboost and
#        pandas (default: the parity tests' cached venv for Tests/requirements-ml.txt, made if missing);
#        DATA=DIR to reuse the files `scripts/bench/predict_bench.py make DIR ROWS` wrote.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS="${1:-1000000}"
RUNS="${2:-3}"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then swift build -c release --product mreg >&2; fi
BIN="${BIN:-$(swift build -c release --show-bin-path)}"

if [[ -z "${PYTHON:-}" ]]; then
    VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mreg-test-venvs/$(sha256sum Tests/requirements-ml.txt | cut -c1-64)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV.tmp-$$" >&2
        "$VENV.tmp-$$/bin/python" -m pip install --quiet --disable-pip-version-check -r Tests/requirements-ml.txt >&2
        mv "$VENV.tmp-$$" "$VENV"
    fi
    PYTHON="$VENV/bin/python"
fi

WORK="$(mktemp -d /tmp/mreg-bench-predict.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
if [[ -n "${DATA:-}" ]]; then
    # Reuse the files of an earlier `predict_bench.py make DATA ROWS` (making them takes minutes).
    ln -s "$DATA/big.csv" "$DATA/small.csv" "$DATA/xgb" "$WORK/"
else
    "$PYTHON" scripts/bench/predict_bench.py make "$WORK" "$ROWS" >&2
fi
export MREG_REGISTRY="" GIT_CONFIG_NOSYSTEM=1
"$BIN/mreg" init "$WORK/reg" --ci none >/dev/null
(cd "$WORK/reg" && "$BIN/mreg" train logit --data "$WORK/small.csv" --target label --algorithm logistic --trials 1 >/dev/null)
(cd "$WORK/reg" && "$BIN/mreg" register xgb --from "$WORK/xgb" >/dev/null)

now() { date +%s.%N; }
best() { sort -g | head -1; }
# mreg predict MODEL: the best wall time of RUNS runs, CSV in and out; the CPU seconds (user + system,
# all threads) of each run go to $WORK/cpu-MODEL.
time_mreg() {
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(now)
        (cd "$WORK/reg" && /usr/bin/time -f "%U %S" -o "$WORK/time-$1" "$BIN/mreg" predict "$1@v1" --data "$WORK/big.csv" --out "$WORK/out-$1.csv" 2>/dev/null)
        t1=$(now)
        awk '{print $1 + $2}' "$WORK/time-$1" >>"$WORK/cpu-$1"
        echo "$t1 - $t0" | bc -l
    done | best
}
LOGIT=$(time_mreg logit)
XGB=$(time_mreg xgb)
LOGIT_CPU=$(best <"$WORK/cpu-logit")
XGB_CPU=$(best <"$WORK/cpu-xgb")
PY_TOTAL=""; PY_READ_PREDICT=""
for _ in $(seq "$RUNS"); do
    "$PYTHON" scripts/bench/predict_bench.py score "$WORK" "$WORK/out-py.csv"
done >"$WORK/py.jsonl"
PY_TOTAL=$("$PYTHON" -c "import json,sys; print(min(json.loads(l)['total'] for l in open(sys.argv[1])))" "$WORK/py.jsonl")
PY_READ_PREDICT=$("$PYTHON" -c "import json,sys; print(min(json.loads(l)['read_predict'] for l in open(sys.argv[1])))" "$WORK/py.jsonl")
PY_PREDICT=$("$PYTHON" -c "import json,sys; print(min(json.loads(l)['predict'] for l in open(sys.argv[1])))" "$WORK/py.jsonl")
PY_CPU=$("$PYTHON" -c "import json,sys; print(min(json.loads(l)['cpu_total'] for l in open(sys.argv[1])))" "$WORK/py.jsonl")

# The same predictions: mreg's probability of class 1 against XGBoost's, on every row.
AGREE=$("$PYTHON" - "$WORK" <<'PY'
import sys, pandas as pd, xgboost as xgb
w = sys.argv[1]
b = xgb.Booster(); b.load_model(f"{w}/xgb/model.json")
head = pd.read_csv(f"{w}/big.csv", nrows=100_000)
p = b.predict(xgb.DMatrix(head[[f"f{i}" for i in range(20)]]))
m = pd.read_csv(f"{w}/out-xgb.csv", nrows=100_000)
print(f"{(m['prediction'].astype(int) == (p > 0.5).astype(int)).mean():.6f}")
PY
)

rate() { echo "$ROWS / $1 / 1000000" | bc -l | xargs printf '%.2f'; }
secs() { printf '%.2f' "$1"; }
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<MD
$ROWS rows x 20 numeric features, CSV in and out; best of $RUNS runs; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load average $LOAD.

| what | seconds | M rows/s | CPU seconds (all threads) |
|---|---:|---:|---:|
| \`mreg predict\` logistic | $(secs "$LOGIT") | $(rate "$LOGIT") | $(secs "$LOGIT_CPU") |
| \`mreg predict\` XGBoost, 100 trees (depth 6) | $(secs "$XGB") | $(rate "$XGB") | $(secs "$XGB_CPU") |
| XGBoost Python: read_csv + predict + to_csv | $(secs "$PY_TOTAL") | $(rate "$PY_TOTAL") | $(secs "$PY_CPU") |
| XGBoost Python: read_csv + predict | $(secs "$PY_READ_PREDICT") | $(rate "$PY_READ_PREDICT") | |
| XGBoost Python: Booster.predict alone | $(secs "$PY_PREDICT") | $(rate "$PY_PREDICT") | |

mreg XGBoost vs Python read+predict+write: $(echo "$PY_TOTAL / $XGB" | bc -l | xargs printf '%.2f')x wall, $(echo "$PY_CPU / $XGB_CPU" | bc -l | xargs printf '%.2f')x CPU; vs read+predict: $(echo "$PY_READ_PREDICT / $XGB" | bc -l | xargs printf '%.2f')x wall. Labels agree with XGBoost's on the first 100,000 rows: $AGREE.
MD

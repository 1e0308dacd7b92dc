#!/usr/bin/env bash
# Speed benchmark: MregML vs scikit-learn training time (logistic, gbdt) and logistic scoring throughput
# on a 100,000 x 20 synthetic table. Writes docs/benchmarks-ml.md.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
WORK="$ROOT/.build/ml-bench"
mkdir -p "$WORK"
build_bench
export MREG_BENCH_LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg | sed 's| | / |g')"
if [ ! -f "$WORK/synthetic.csv" ]; then
    echo "generating $WORK/synthetic.csv" >&2
    "$PY" "$ROOT/scripts/ml/bench.py" generate "$WORK/synthetic.csv"
fi
echo "MregML logistic" >&2
"$BENCH" score --data "$WORK/synthetic.csv" --target y --algorithm logistic --seed 42 --repeat 3 > "$WORK/ours-logistic.json"
echo "MregML gbdt" >&2
"$BENCH" score --data "$WORK/synthetic.csv" --target y --algorithm gbdt --seed 42 --repeat 3 --seconds 0.5 \
    --param early_stopping=false --param max_iter=100 > "$WORK/ours-gbdt.json"
echo "scikit-learn" >&2
# Only here: these variables slow a current numpy down (see the machine notes); tests and CI keep them.
(unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; "$PY" "$ROOT/scripts/ml/bench.py" sklearn "$WORK/synthetic.csv" \
    "$WORK/ours-logistic.json" "$WORK/ours-gbdt.json" > "$WORK/sklearn.json")
"$PY" "$ROOT/scripts/ml/bench.py" report "$WORK/ours-logistic.json" "$WORK/ours-gbdt.json" "$WORK/sklearn.json" \
    "$ROOT/docs/benchmarks-ml.md"
cat "$ROOT/docs/benchmarks-ml.md"

#!/usr/bin/env bash
# Quality parity: MregML vs scikit-learn on the same train/test rows of four real data sets.
# Usage: scripts/ml/parity.sh [--export]   (--export rewrites the example CSVs from scikit-learn)
set -euo pipefail
source "$(dirname "$0")/venv.sh"
if [ "${1:-}" = "--export" ] || [ ! -f "$ROOT/examples/wine.csv" ]; then
    "$PY" "$ROOT/scripts/ml/export_datasets.py" "$ROOT/examples"
fi
build_bench
"$PY" "$ROOT/scripts/ml/parity.py" "$BENCH" "$ROOT/examples" "$ROOT/.build/ml-parity.md"
echo "table written to .build/ml-parity.md"

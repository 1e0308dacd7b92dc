# Sourced by parity.sh and bench.sh: a test-only Python environment with scikit-learn, outside the
# package (under .build, which git ignores). Sets PY to its interpreter.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${MREG_ML_VENV:-$ROOT/.build/ml-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV" >&2
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import sklearn, numpy, pandas, threadpoolctl" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check scikit-learn numpy pandas threadpoolctl >&2
fi
PY="$VENV/bin/python"
BENCH="$ROOT/.build/release/mreg-ml-bench"
build_bench() {
    echo "building mreg-ml-bench (release)" >&2
    (cd "$ROOT" && swift build -c release --product mreg-ml-bench >&2)
}

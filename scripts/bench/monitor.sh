#!/usr/bin/env bash
# Benchmarks of `mreg monitor` (figures in docs/benchmarks-monitor.md):
#   alarms  false-positive rate on in-distribution penguins windows, detection rate on 2009 rows and
#           on a +1σ shift in one feature; 200 windows per case (10 seeded splits x 20), sizes 30 and 50
#   speed   one `mreg monitor` over 1,000,000 captured rows of a 20-feature model (best of 3)
# Usage: scripts/bench/monitor.sh [alarms|speed|all] (default all); MREG=path uses that binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${MREG:-}" ]; then
  swift build -c release --product mreg >/dev/null
  MREG="$PWD/.build/release/mreg"
fi
export MREG
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
what="${1:-all}"
if [ "$what" = alarms ] || [ "$what" = all ]; then
  python3 scripts/bench/monitor_bench.py alarms templates/files/data/penguins.csv "${SIZES:-30,50}"
fi
if [ "$what" = speed ] || [ "$what" = all ]; then
  python3 scripts/bench/monitor_bench.py speed "${ROWS:-1000000}"
fi

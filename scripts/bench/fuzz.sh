#!/usr/bin/env bash
# A longer HTTP fuzz pass against a live `mreg serve` on 127.0.0.1 (the test ServeFuzzTests, with more
# cases): random bytes, broken request lines and headers, huge headers, lying Content-Lengths,
# mutated JSON bodies. Prints the case count and the server's resident memory.
# Usage: scripts/bench/fuzz.sh [CASES]   (default 5000; bounded to CASES/20 seconds, at least 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build --build-tests >/dev/null
MREG_FUZZ_CASES="${1:-5000}" swift test --skip-build --filter ServeFuzzTests 2>&1 | grep -E "fuzz:|passed|failed|✘"

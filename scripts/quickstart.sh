#!/usr/bin/env bash
# Sets everything up, builds mreg and runs `mreg quickstart` on the bundled penguins data.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --product mreg
exec .build/release/mreg quickstart "$@"

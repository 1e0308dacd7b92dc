#!/usr/bin/env bash
# Sets everything up, builds mreg and runs `mreg quickstart` on the bundled penguins data.
# A debug build: it is the quicker one to make from scratch, and the demo is small (a release
# build for production: swift build -c release, or scripts/release.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build --product mreg
exec .build/debug/mreg quickstart "$@"

#!/usr/bin/env bash
# Sets everything up, builds mreg and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Test tooling: an sshd for the SSH transport tests (they are skipped without one).
if [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server >/dev/null || echo "test: no sshd; SSH transport tests will be skipped" >&2
fi
# Headless Chromium for the UI tests (they are skipped without one).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null || echo "test: no chromium; the browser UI test will be skipped" >&2
fi
swift build --build-tests
swift test --skip-build "$@"

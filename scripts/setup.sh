#!/usr/bin/env bash
# Installs what mreg needs to build on Debian (libgit2-dev, libssl-dev, pkg-config) when it is missing.
set -euo pipefail
need=()
pkg-config --exists libgit2 2>/dev/null || need+=(libgit2-dev)
# libcrypto: the reconciler checks SSH commit signatures with it (Sources/CCrypto).
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
# zlib: mreg checks loose Git objects itself before libgit2 reads them (Sources/CZlib).
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null 2>&1 || { echo "setup: swift is not on PATH (install Swift 6.x first)" >&2; exit 2; }

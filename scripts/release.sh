#!/usr/bin/env bash
# Builds a self-contained mreg (static Swift runtime; libgit2 and libcrypto from the system) with
# its templates into one archive, and prints its sha256 for the CI templates' MREG_RELEASE_SHA256.
#   scripts/release.sh [OUT_DIR]      -> OUT_DIR/mreg-VERSION-linux-ARCH.tar.gz and .sha256
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
./scripts/setup.sh
swift build -c release --product mreg --static-swift-stdlib
bin="$(swift build -c release --product mreg --static-swift-stdlib --show-bin-path)"
version="$("$bin/mreg" --version)"
name="mreg-$version-linux-$(uname -m)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$out"
cp "$bin/mreg" "$stage/$name/"
cp -R "$bin/mreg_MregTemplates.resources" "$stage/$name/"
cp LICENSE README.md "$stage/$name/"
# Reproducible: fixed owner, order and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00:00Z' \
    -C "$stage" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" | tee "$name.tar.gz.sha256")

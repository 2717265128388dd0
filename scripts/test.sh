#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install-deps.sh
BUILD_DIR=build bash scripts/build.sh -DNASFORGE_BUILD_TESTS=ON
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600)
echo "nasforge: build and tests took $(( $(date +%s) - start )) s"

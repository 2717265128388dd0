#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run every test with ctest; then the same
# suite again under AddressSanitizer + UBSan (NASFORGE_SKIP_SANITIZE=1 skips that second pass).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install-deps.sh
BUILD_DIR=build bash scripts/build.sh -DNASFORGE_BUILD_TESTS=ON
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600)
echo "nasforge: Release build and tests took $(( $(date +%s) - start )) s"
if [ "${NASFORGE_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "nasforge: now the same tests under ASan/UBSan (set NASFORGE_SKIP_SANITIZE=1 to skip)"
  # Sanitizer reports abort the process, so a finding fails its test.
  # libtorch is not built with the sanitizers, so this pass covers everything but the nn/ code.
  BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh -DNASFORGE_BUILD_TESTS=ON -DNASFORGE_SANITIZE=ON \
    -DNASFORGE_BUILD_BENCH=OFF -DNASFORGE_WITH_TORCH=OFF
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$(nproc)" --timeout 900)
fi

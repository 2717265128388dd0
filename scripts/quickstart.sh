#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install, build, run the quickstart study.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=build bash scripts/build.sh -DNASFORGE_BUILD_TESTS=OFF -DNASFORGE_BUILD_BENCH=OFF
rm -rf quickstart.db quickstart.db-wal quickstart.db-shm quickstart_artifacts
./build/nasforge run configs/quickstart.yaml
./build/nasforge best --storage sqlite:///quickstart.db --study quickstart --top 3

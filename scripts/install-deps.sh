#!/usr/bin/env bash
# Installs the Debian 12 packages nasforge needs to build, test and benchmark. Run as root.
set -euo pipefail
packages=(
  cmake ninja-build g++ ccache pkg-config git
  libyaml-cpp-dev libsqlite3-dev libeigen3-dev libboost-dev zlib1g-dev
  nlohmann-json3-dev libfmt-dev libcli11-dev
  libtorch-dev dataset-fashion-mnist
  # libtorch-dev links libblas.so.3, which Debian points at the (slow) reference BLAS unless an optimized one is
  # installed; OpenBLAS registers itself as the libblas.so.3 alternative (5x faster batch-1 latency measured).
  libopenblas0-pthread
  libgtest-dev libgmock-dev
  sqlite3 python3
  libpq-dev postgresql
)
if [ "${NASFORGE_WITH_PEERS:-0}" = 1 ]; then
  # Only the benchmarks compare against Optuna and PyTorch; Optuna reaches PostgreSQL through psycopg2.
  packages+=(python3-optuna python3-torch python3-psycopg2)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "nasforge: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "nasforge: all build dependencies are installed"
fi

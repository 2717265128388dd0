#!/usr/bin/env bash
# Side-by-side benchmarks of nasforge and Optuna 3.1; rewrites docs/benchmarks.md from one run.
#
#   bench/run.sh            full run (~15 minutes on 2 cores), writes docs/benchmarks.md
#   bench/run.sh --quick    smoke test (~2 minutes), writes build-bench/benchmarks-quick.md
#   options: --doc PATH (where the report goes), --build-dir DIR (default build-bench)
#
# It builds the C++ harness (Release) in the build folder, runs nasforge and Optuna one after the other with the
# same protocols, keeps the raw JSON under <build>/bench-results/<run id>/ and renders the report with
# bench/report.py. Not part of ctest: timings do not belong in unit tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3  # Debian's python3-optuna lives here; the pyenv python3 on PATH has no optuna
QUICK=0
DOC=""
BUILD="$ROOT/build-bench"
ARGS=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --doc) DOC="$(realpath -m "$2")"; shift 2 ;;
    --build-dir) BUILD="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (allowed: --quick, --doc PATH, --build-dir DIR)" >&2; exit 2 ;;
  esac
done

if [[ $QUICK == 1 ]]; then
  OVERHEAD_TRIALS=200; REPEATS_MEMORY=1; REPEATS_SQLITE=1
  SEEDS=0,1; QUALITY_TRIALS=200
  DOC="${DOC:-$BUILD/benchmarks-quick.md}"
else
  OVERHEAD_TRIALS=1000; REPEATS_MEMORY=3; REPEATS_SQLITE=1
  SEEDS=0,1,2,3,4,5,6,7,8,9; QUALITY_TRIALS=200
  DOC="${DOC:-$ROOT/docs/benchmarks.md}"
fi
CHECKPOINTS=100,200
TABLE="$ROOT/data/benchmarks/nasbench201/cifar10_valid.csv.gz"
PROBLEMS=(branin hartmann6 nb201)
# nasforge variants (label=strategy YAML) and Optuna variants (labels understood by optuna_bench.py).
# nasforge's tpe is multivariate (joint) only when every parameter is categorical, independent otherwise; Optuna's
# default is independent TPE. Both defaults are compared, and each mode with its like-for-like counterpart.
NASFORGE_VARIANTS=("random=name: random" "tpe=name: tpe" "tpe_univariate={name: tpe, multivariate: false}"
                   "tpe_multivariate={name: tpe, multivariate: true}")
OPTUNA_VARIANTS=(random tpe tpe_multivariate)
# Which nasforge variant each Optuna variant is compared with in the overhead table.
PAIRS='[["random", "random"], ["tpe", "tpe"], ["tpe_multivariate", "tpe_multivariate"], ["tpe_univariate", "tpe"]]'

if ! "$PY" -c 'import optuna' 2>/dev/null; then
  echo "run.sh: $PY cannot import optuna (install Debian's python3-optuna)" >&2
  exit 1
fi

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

log "building nasforge_bench (Release) in $BUILD"
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNASFORGE_BUILD_TESTS=OFF \
    -DNASFORGE_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$BUILD" --target nasforge_bench -j2 >/dev/null
BENCH="$BUILD/bench/nasforge_bench"

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$BUILD/bench-results/$RUN_ID"
mkdir -p "$RESULTS/overhead" "$RESULTS/quality"
TMP="$(mktemp -d /tmp/nasforge-bench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------------------------------- run metadata
COMPILER="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")"
export B_COMMAND="bench/run.sh${ARGS[*]:+ ${ARGS[*]}}"
export B_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
export B_RUN_ID="$RUN_ID"
export B_RESULTS_REL="$(realpath --relative-to="$ROOT" "$RESULTS")"
export B_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
export B_CORES="$(nproc)"
export B_MEMORY="$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
export B_LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
export B_VERSION="$(sed -n 's/^project(nasforge VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
export B_GIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo ' + uncommitted changes')"
export B_COMPILER="$("${COMPILER:-c++}" --version | head -1)"
export B_SQLITE_LIB="$(sed -n 's/^#define SQLITE_VERSION[[:space:]]*"\(.*\)"/\1/p' /usr/include/sqlite3.h)"
export B_QUICK="$QUICK" B_OVERHEAD_TRIALS="$OVERHEAD_TRIALS" B_REPEATS_MEMORY="$REPEATS_MEMORY"
export B_REPEATS_SQLITE="$REPEATS_SQLITE" B_SEEDS="$SEEDS" B_QUALITY_TRIALS="$QUALITY_TRIALS"
export B_CHECKPOINTS="$CHECKPOINTS" B_TABLE="$TABLE" B_PROBLEMS="${PROBLEMS[*]}" B_PAIRS="$PAIRS"
"$PY" - "$RESULTS/meta.json" <<'EOF'
import json, os, sys, platform, sqlite3
import optuna, sqlalchemy
e = os.environ
repeats = f"{e['B_REPEATS_MEMORY']} time(s) in memory and {e['B_REPEATS_SQLITE']} time(s) with SQLite"
meta = {
    "command": e["B_COMMAND"], "date": e["B_DATE"], "run_id": e["B_RUN_ID"], "results_dir_rel": e["B_RESULTS_REL"],
    "cpu": e["B_CPU"], "cores": int(e["B_CORES"]), "memory": e["B_MEMORY"], "loadavg": e["B_LOADAVG"],
    "nasforge_version": e["B_VERSION"], "git": e["B_GIT"], "compiler": e["B_COMPILER"], "sqlite_lib": e["B_SQLITE_LIB"],
    "optuna": optuna.__version__, "sqlalchemy": sqlalchemy.__version__, "python": platform.python_version(),
    "python_sqlite": sqlite3.sqlite_version, "quick": e["B_QUICK"] == "1",
    "overhead_trials": int(e["B_OVERHEAD_TRIALS"]), "overhead_repeats_text": repeats, "overhead_target": 50,
    "storage_pairs": [["memory", "memory"], ["sqlite", "sqlite"], ["sqlite", "sqlite_wal"]],
    "pairs": json.loads(e["B_PAIRS"]),
    "quality_trials": int(e["B_QUALITY_TRIALS"]), "quality_seeds_text": e["B_SEEDS"],
    "quality_checkpoints": [int(c) for c in e["B_CHECKPOINTS"].split(",")], "nb201_table": e["B_TABLE"],
    "problems": e["B_PROBLEMS"].split(),
}
with open(sys.argv[1], "w") as f:
    json.dump(meta, f, indent=1)
EOF

# ---------------------------------------------------------------------------------------------- 1. overhead
for storage in memory sqlite; do
  repeats=$REPEATS_MEMORY
  [[ $storage == sqlite ]] && repeats=$REPEATS_SQLITE
  for rep in $(seq 1 "$repeats"); do
    # Alternate the two implementations so that a change in machine load hits both.
    for variant in "${NASFORGE_VARIANTS[@]}"; do
      label="${variant%%=*}"
      log "overhead nasforge $label $storage (repeat $rep/$repeats)"
      "$BENCH" overhead --label "$label" --strategy "${variant#*=}" --storage "$storage" \
        --trials "$OVERHEAD_TRIALS" --dir "$TMP" >"$RESULTS/overhead/nasforge_${label}_${storage}_r$rep.json"
    done
    optuna_runs=("${OPTUNA_VARIANTS[@]/%/:$storage}")
    # Optuna with nasforge's SQLite pragmas too (random only: the storage dominates there), so that the doc can
    # say how much of the gap is fsync policy.
    [[ $storage == sqlite ]] && optuna_runs+=("random:sqlite_wal")
    for run in "${optuna_runs[@]}"; do
      label="${run%%:*}" optuna_storage="${run#*:}"
      log "overhead optuna $label $optuna_storage (repeat $rep/$repeats)"
      "$PY" "$ROOT/bench/optuna_bench.py" overhead --strategy "$label" --storage "$optuna_storage" \
        --trials "$OVERHEAD_TRIALS" --dir "$TMP" >"$RESULTS/overhead/optuna_${label}_${optuna_storage}_r$rep.json"
    done
  done
done

# ----------------------------------------------------------------------------------------------- 2. quality
for problem in "${PROBLEMS[@]}"; do
  for variant in "${NASFORGE_VARIANTS[@]}"; do
    label="${variant%%=*}"
    log "quality nasforge $label $problem (seeds $SEEDS)"
    "$BENCH" quality --label "$label" --strategy "${variant#*=}" --problem "$problem" --seeds "$SEEDS" \
      --trials "$QUALITY_TRIALS" --checkpoints "$CHECKPOINTS" --table "$TABLE" \
      >"$RESULTS/quality/nasforge_${label}_${problem}.json"
  done
  for label in "${OPTUNA_VARIANTS[@]}"; do
    log "quality optuna $label $problem (seeds $SEEDS)"
    "$PY" "$ROOT/bench/optuna_bench.py" quality --strategy "$label" --problem "$problem" --seeds "$SEEDS" \
      --trials "$QUALITY_TRIALS" --checkpoints "$CHECKPOINTS" --table "$TABLE" \
      >"$RESULTS/quality/optuna_${label}_${problem}.json"
  done
done

"$PY" - "$RESULTS/meta.json" <<'EOF'
import json, sys, datetime
path = sys.argv[1]
meta = json.load(open(path))
meta["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
meta["loadavg_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
json.dump(meta, open(path, "w"), indent=1)
EOF
mkdir -p "$(dirname "$DOC")"
"$PY" "$ROOT/bench/report.py" "$RESULTS" "$DOC"
log "done: $DOC (raw results in $RESULTS)"

#!/usr/bin/env bash
# Side-by-side benchmarks of nasforge against Optuna 3.1 (sampler overhead, search quality, concurrent workers on
# SQLite and PostgreSQL), against Python PyTorch 1.13 (training throughput), and of nasforge's search strategies
# against each other and Optuna on tabular NAS/HPO benchmarks; rewrites docs/benchmarks.md from one run.
#
#   bench/run.sh                full run (~60 minutes on 2 cores), writes docs/benchmarks.md
#   bench/run.sh --quick        smoke test (~12 minutes), writes build-bench/benchmarks-quick.md
#   bench/run.sh --only train   runs only the listed sections (overhead, quality, train, strategies, workers,
#                               targets; comma-separated) and takes the others from the latest earlier run of the same mode
#                               in the build folder
#   options: --doc PATH (where the report goes), --build-dir DIR (default build-bench),
#            --train-threads LIST (torch threads of the training runs, comma-separated; default 1: on a machine shared
#            with other work a multi-threaded OpenMP team waits at every barrier for a descheduled thread, which
#            measures the load rather than the code; give e.g. 1,$(nproc) on an idle machine)
#
# It builds the C++ harnesses (Release) in the build folder, runs nasforge and its peer one after the other with
# the same protocols, keeps the raw JSON under <build>/bench-results/<run id>/ and renders the report with
# bench/report.py. Not part of ctest: timings do not belong in unit tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3  # Debian's python3-optuna and python3-torch live here; the pyenv python3 on PATH has neither
QUICK=0
DOC=""
BUILD="$ROOT/build-bench"
ONLY="overhead,quality,train,strategies,workers,targets"
TRAIN_THREADS=1
ARGS=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --doc) DOC="$(realpath -m "$2")"; shift 2 ;;
    --build-dir) BUILD="$(realpath -m "$2")"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --train-threads) TRAIN_THREADS="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (allowed: --quick, --only LIST, --doc PATH, --build-dir DIR," \
         "--train-threads LIST)" >&2; exit 2 ;;
  esac
done
SECTIONS=(overhead quality train strategies workers targets)
declare -A RUN_SECTION=()
IFS=, read -ra only_list <<<"$ONLY"
for section in "${only_list[@]}"; do
  case "$section" in
    overhead|quality|train|strategies|workers|targets) RUN_SECTION[$section]=1 ;;
    *) echo "run.sh: --only: unknown section '$section' (allowed: overhead, quality, train, strategies, workers," \
         "targets)" >&2
       exit 2 ;;
  esac
done
runs() { [[ -n "${RUN_SECTION[$1]:-}" ]]; }
IFS=, read -ra threads_list <<<"$TRAIN_THREADS"
TRAIN_THREADS_LIST=()
for t in "${threads_list[@]}"; do
  if ! [[ $t =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: --train-threads: '$t' is not a positive integer" >&2; exit 2
  fi
  [[ " ${TRAIN_THREADS_LIST[*]} " == *" $t "* ]] || TRAIN_THREADS_LIST+=("$t")
done

if [[ $QUICK == 1 ]]; then
  OVERHEAD_TRIALS=200; REPEATS_MEMORY=1; REPEATS_SQLITE=1
  SEEDS=0,1; QUALITY_TRIALS=200
  # Training: network=epochs:training samples; warm-up batches; interleaved repeats.
  TRAIN_NETWORKS=("small=1:512" "medium=1:256"); TRAIN_WARMUP=1; TRAIN_REPEATS=1
  STRATEGY_SEEDS=3; COST_TRIALS=100; COST_SEEDS=0
  WORKERS_TRIALS=100; WORKERS_REPEATS=1
  TARGET_DRAWS=2; PROFILE_NETWORKS=40; PROFILE_RUNS=10
  DOC="${DOC:-$BUILD/benchmarks-quick.md}"
else
  OVERHEAD_TRIALS=1000; REPEATS_MEMORY=3; REPEATS_SQLITE=1
  SEEDS=0,1,2,3,4,5,6,7,8,9; QUALITY_TRIALS=200
  TRAIN_NETWORKS=("small=1:2048" "medium=1:640"); TRAIN_WARMUP=1; TRAIN_REPEATS=5
  STRATEGY_SEEDS=30; COST_TRIALS=300; COST_SEEDS=0
  WORKERS_TRIALS=400; WORKERS_REPEATS=3
  TARGET_DRAWS=10; PROFILE_NETWORKS=120; PROFILE_RUNS=30
  DOC="${DOC:-$ROOT/docs/benchmarks.md}"
fi
TRAIN_BATCH=128
TRAIN_VAL=128
# What nasforge's trainer sets with mallopt() (evaluators/nn/trainer.cc), given to a second PyTorch run through
# glibc's environment, so that the report can say how much of the gap is the allocator setting.
MALLOC_TUNABLES="glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824"
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

# Strategies section: tabular problems (id=kind:table; maximize for nb201, minimize for hpolib), every strategy with
# its default options, STRATEGY_TRIALS queries per run. The HPOLib tables are not shipped (2.4 MB each); a missing
# one is skipped and the report says so. rl needs libnasforge_nn.so (built here when the build has libtorch); when
# it cannot run, its result file records why and the report says that rl did not run.
STRATEGY_TRIALS=100
STRATEGY_NASFORGE=(random tpe gp evolution rl)
STRATEGY_OPTUNA=(tpe random)
HPOLIB_DIR="$(realpath -m "$ROOT/../shared/benchmarks/hpolib")"
STRATEGY_PROBLEMS=(
  "cifar10=nb201:$ROOT/data/benchmarks/nasbench201/cifar10_valid.csv.gz"
  "cifar100=nb201:$ROOT/data/benchmarks/nasbench201/cifar100_valid.csv.gz"
  "imagenet16=nb201:$ROOT/data/benchmarks/nasbench201/imagenet_valid.csv.gz"
  "naval=hpolib:$HPOLIB_DIR/naval_propulsion.csv.gz"
  "parkinsons=hpolib:$HPOLIB_DIR/parkinsons_telemonitoring.csv.gz"
  "protein=hpolib:$HPOLIB_DIR/protein_structure.csv.gz"
  "slice=hpolib:$HPOLIB_DIR/slice_localization.csv.gz"
)
# Per-trial cost as a study grows: (impl:label) on hartmann6, COST_TRIALS trials.
COST_RUNS=("nasforge:gp" "nasforge:tpe" "optuna:tpe")

# Workers section: WORKERS_TRIALS branin trials (no sleep) split among N worker processes started at once against
# one fresh storage, for each N, storage, sampler and tool (bench/workers_bench.py); WORKERS_REPEATS interleaved
# repeats. Random sampling is the headline (the sampler costs next to nothing); TPE shows the same with each tool's
# default model-based sampler. PostgreSQL runs on a throw-away server (scripts/pg-test-server.sh) in the build
# folder, a fresh database per configuration.
WORKERS_COUNTS=(1 2 4 8)

# Targets section: the latency model against measured NAS-Bench-201 latencies of three devices (HW-NAS-Bench / HELP,
# in the team's shared folder; skipped with a note when absent), calibrated from TARGET_CALIBRATE random rows,
# TARGET_DRAWS draws; and `nasforge profile` of this machine, checked on the half of PROFILE_NETWORKS it did not fit.
HW_TABLE="$(realpath -m "$ROOT/../shared/benchmarks/hw-latency/nb201_cifar10_latency.csv.gz")"
TARGET_CALIBRATE=20
PROFILE_STUDY="$ROOT/configs/quickstart.yaml"
WORKERS_STORAGES=(sqlite postgresql)
WORKERS_STRATEGIES=(random tpe)

if ! "$PY" -c 'import optuna' 2>/dev/null; then
  echo "run.sh: $PY cannot import optuna (install Debian's python3-optuna)" >&2
  exit 1
fi
if runs workers && ! "$PY" -c 'import psycopg2' 2>/dev/null; then
  echo "run.sh: $PY cannot import psycopg2 (install Debian's python3-psycopg2; Optuna needs it for PostgreSQL)" >&2
  exit 1
fi
if runs train && ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "run.sh: $PY cannot import torch (install Debian's python3-torch, the version libtorch-dev has)" >&2
  exit 1
fi

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNASFORGE_BUILD_TESTS=OFF \
    -DNASFORGE_BUILD_BENCH=ON >/dev/null
fi
TARGETS=()
if runs overhead || runs quality || runs strategies; then TARGETS+=(nasforge_bench); fi
if runs workers; then TARGETS+=(nasforge); fi
if runs targets; then TARGETS+=(nasforge nasforge_nn); fi
if runs train; then
  if grep -q '^NASFORGE_WITH_TORCH:BOOL=OFF' "$BUILD/CMakeCache.txt"; then
    echo "run.sh: $BUILD is configured with NASFORGE_WITH_TORCH=OFF; the train section needs libtorch" >&2
    exit 1
  fi
  TARGETS+=(nasforge_train_bench)
fi
log "building ${TARGETS[*]} (Release) in $BUILD"
cmake --build "$BUILD" --target "${TARGETS[@]}" -j2 >/dev/null
BENCH="$BUILD/bench/nasforge_bench"
# rl's libtorch half lives in libnasforge_nn.so; a failed build only keeps rl out of the strategies section.
RL_STATUS=""
if runs strategies && [[ " ${STRATEGY_NASFORGE[*]} " == *" rl "* ]]; then
  if grep -q '^NASFORGE_WITH_TORCH:BOOL=OFF' "$BUILD/CMakeCache.txt"; then
    RL_STATUS="$BUILD is configured with NASFORGE_WITH_TORCH=OFF, so libnasforge_nn.so is not built"
  else
    log "building nasforge_nn (Release) in $BUILD for the rl strategy"
    if ! cmake --build "$BUILD" --target nasforge_nn -j2 >"$BUILD/nasforge_nn_build.log" 2>&1; then
      build_log="$(realpath --relative-to="$ROOT" "$BUILD/nasforge_nn_build.log")"
      RL_STATUS="libnasforge_nn.so did not build (log: $build_log)"
      log "rl: $RL_STATUS"
    fi
  fi
fi
export NASFORGE_NN_LIBRARY="$BUILD/libnasforge_nn.so"
TRAIN_BENCH="$BUILD/bench/nasforge_train_bench"

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$BUILD/bench-results/$RUN_ID"
mkdir -p "$RESULTS"
TMP="$(mktemp -d /tmp/nasforge-bench.XXXXXX)"
PG_STATE="$BUILD/pg-workers"
cleanup() {
  rm -rf "$TMP"
  if [[ -f $PG_STATE/datadir ]]; then bash "$ROOT/scripts/pg-test-server.sh" stop "$PG_STATE" || true; fi
}
trap cleanup EXIT

# Sections not run now come from the latest earlier run of the same mode that has them (run id per section).
SECTION_RUNS=""
for section in "${SECTIONS[@]}"; do
  if runs "$section"; then
    SECTION_RUNS+="$section=$RUN_ID "
    continue
  fi
  source_run=""
  for dir in $(ls -1d "$BUILD"/bench-results/*/ 2>/dev/null | sort -r); do
    id="$(basename "$dir")"
    [[ $id == "$RUN_ID" ]] && continue
    [[ -n "$(ls -A "$dir/$section" 2>/dev/null)" ]] || continue
    # Only finished runs of the same mode count (an interrupted run has no "finished" stamp).
    "$PY" -c 'import json, sys; m = json.load(open(sys.argv[1]))
sys.exit("finished" not in m or m["quick"] != (sys.argv[2] == "1"))' \
      "$dir/meta.json" "$QUICK" 2>/dev/null || continue
    source_run="$id"
    break
  done
  if [[ -n $source_run ]]; then
    log "section $section: results of earlier run $source_run"
    SECTION_RUNS+="$section=$source_run "
  else
    log "section $section: not run now and no earlier run of this mode has it; the report will say so"
  fi
done

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
export B_SECTION_RUNS="$SECTION_RUNS" B_TRAIN_NETWORKS="${TRAIN_NETWORKS[*]}" B_TRAIN_WARMUP="$TRAIN_WARMUP"
export B_TRAIN_REPEATS="$TRAIN_REPEATS" B_TRAIN_THREADS="${TRAIN_THREADS_LIST[*]}" B_TRAIN_BATCH="$TRAIN_BATCH"
export B_TRAIN_VAL="$TRAIN_VAL" B_MALLOC_TUNABLES="$MALLOC_TUNABLES" B_RUN_TRAIN="$(runs train && echo 1 || echo 0)"
export B_TORCH_DEB="$(dpkg-query -W -f='${Version}' python3-torch 2>/dev/null || echo unknown)"
export B_RUN_STRATEGIES="$(runs strategies && echo 1 || echo 0)" B_STRATEGY_TRIALS="$STRATEGY_TRIALS"
export B_STRATEGY_SEEDS="$STRATEGY_SEEDS" B_STRATEGY_NASFORGE="${STRATEGY_NASFORGE[*]}"
export B_STRATEGY_OPTUNA="${STRATEGY_OPTUNA[*]}" B_STRATEGY_PROBLEMS="${STRATEGY_PROBLEMS[*]}"
export B_COST_TRIALS="$COST_TRIALS" B_COST_SEEDS="$COST_SEEDS" B_COST_RUNS="${COST_RUNS[*]}" B_RL_STATUS="$RL_STATUS"
export B_RUN_WORKERS="$(runs workers && echo 1 || echo 0)" B_WORKERS_TRIALS="$WORKERS_TRIALS"
export B_WORKERS_REPEATS="$WORKERS_REPEATS" B_WORKERS_COUNTS="${WORKERS_COUNTS[*]}"
export B_WORKERS_STORAGES="${WORKERS_STORAGES[*]}" B_WORKERS_STRATEGIES="${WORKERS_STRATEGIES[*]}"
export B_ROOT="$ROOT"
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
    "section_runs": dict(item.split("=") for item in e["B_SECTION_RUNS"].split()),
}
if e["B_RUN_TRAIN"] == "1":
    import torch
    networks = []
    for item in e["B_TRAIN_NETWORKS"].split():
        name, _, rest = item.partition("=")
        epochs, _, size = rest.partition(":")
        networks.append({"name": name, "epochs": int(epochs), "train_size": int(size)})
    meta["train"] = {"networks": networks, "warmup_batches": int(e["B_TRAIN_WARMUP"]),
                     "repeats": int(e["B_TRAIN_REPEATS"]), "threads": [int(t) for t in e["B_TRAIN_THREADS"].split()],
                     "batch_size": int(e["B_TRAIN_BATCH"]), "val_size": int(e["B_TRAIN_VAL"]),
                     "malloc_tunables": e["B_MALLOC_TUNABLES"], "pytorch": torch.__version__,
                     "pytorch_deb": e["B_TORCH_DEB"]}
if e["B_RUN_STRATEGIES"] == "1":
    problems = []
    for item in e["B_STRATEGY_PROBLEMS"].split():
        pid, _, rest = item.partition("=")
        kind, _, table = rest.partition(":")
        problems.append({"id": pid, "kind": kind, "table": table,
                         "table_rel": os.path.relpath(table, e["B_ROOT"]), "present": os.path.isfile(table)})
    meta["strategies"] = {
        "trials": int(e["B_STRATEGY_TRIALS"]), "seeds": int(e["B_STRATEGY_SEEDS"]),
        "nasforge": e["B_STRATEGY_NASFORGE"].split(), "optuna": e["B_STRATEGY_OPTUNA"].split(),
        "problems": problems, "cost_trials": int(e["B_COST_TRIALS"]),
        "cost_seeds": [int(s) for s in e["B_COST_SEEDS"].split(",")],
        "cost_runs": [r.split(":") for r in e["B_COST_RUNS"].split()], "rl_status": e["B_RL_STATUS"]}
if e["B_RUN_WORKERS"] == "1":
    import psycopg2
    meta["workers"] = {
        "trials": int(e["B_WORKERS_TRIALS"]), "repeats": int(e["B_WORKERS_REPEATS"]),
        "counts": [int(n) for n in e["B_WORKERS_COUNTS"].split()], "storages": e["B_WORKERS_STORAGES"].split(),
        "strategies": e["B_WORKERS_STRATEGIES"].split(), "psycopg2": psycopg2.__version__.split()[0]}
with open(sys.argv[1], "w") as f:
    json.dump(meta, f, indent=1)
EOF

# ---------------------------------------------------------------------------------------------- 1. overhead
runs overhead && mkdir -p "$RESULTS/overhead"
for storage in memory sqlite; do
  runs overhead || break
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
runs quality && mkdir -p "$RESULTS/quality"
for problem in "${PROBLEMS[@]}"; do
  runs quality || break
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

# ------------------------------------------------------------------------------------- 3. training throughput
# The same network trained by nasforge's trainer (nasforge_train_bench) and by Python PyTorch (train_bench.py),
# interleaved per repeat so that a change in machine load hits both; a third run gives PyTorch nasforge's malloc
# settings through GLIBC_TUNABLES.
if runs train; then
  mkdir -p "$RESULTS/train"
  "$PY" "$ROOT/bench/train_bench.py" cpu >"$RESULTS/train/cpu.json"
  cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/train/loadavg_start"
  for rep in $(seq 1 "$TRAIN_REPEATS"); do
    for network in "${TRAIN_NETWORKS[@]}"; do
      name="${network%%=*}" spec="${network#*=}"
      epochs="${spec%%:*}" size="${spec#*:}"
      for threads in "${TRAIN_THREADS_LIST[@]}"; do
        tag="${name}_t${threads}_r$rep"
        log "train $name threads=$threads nasforge (repeat $rep/$TRAIN_REPEATS)"
        "$TRAIN_BENCH" --network "$name" --epochs "$epochs" --train-size "$size" --val-size "$TRAIN_VAL" \
          --batch-size "$TRAIN_BATCH" --threads "$threads" --warmup-batches "$TRAIN_WARMUP" \
          --dump-data "$TMP/$name.bin" >"$RESULTS/train/nasforge_$tag.json"
        log "train $name threads=$threads pytorch (repeat $rep/$TRAIN_REPEATS)"
        "$PY" "$ROOT/bench/train_bench.py" run --graph "$RESULTS/train/nasforge_$tag.json" --data "$TMP/$name.bin" \
          --threads "$threads" --warmup-batches "$TRAIN_WARMUP" >"$RESULTS/train/pytorch_$tag.json"
        log "train $name threads=$threads pytorch with GLIBC_TUNABLES (repeat $rep/$TRAIN_REPEATS)"
        GLIBC_TUNABLES="$MALLOC_TUNABLES" "$PY" "$ROOT/bench/train_bench.py" run --label pytorch_malloc \
          --graph "$RESULTS/train/nasforge_$tag.json" --data "$TMP/$name.bin" --threads "$threads" \
          --warmup-batches "$TRAIN_WARMUP" >"$RESULTS/train/pytorch_malloc_$tag.json"
      done
    done
  done
  cut -d' ' -f1-3 /proc/loadavg >"$RESULTS/train/loadavg_end"
fi

# ------------------------------------------------------------------------------- 4. search strategies
# Every strategy with its default options on tabular NAS/HPO problems (noisy one-seed queries); each run records
# every trial (observed value, table mean, time), and report.py derives incumbents, regret curves and verdicts.
# A strategy that fails leaves {"error": ...} instead of results, and the report says it did not run.
trace_or_error() {  # OUT_JSON IMPL LABEL PROBLEM_ID -- command...
  local out="$1" impl="$2" label="$3" pid="$4"
  shift 5
  if "$@" >"$out" 2>"$TMP/trace.err"; then
    grep -v '^  ' "$TMP/trace.err" >&2 || true
    return 0
  fi
  local why
  why="$(grep -v '^  ' "$TMP/trace.err" | tail -3 | tr '\n' ' ')"
  log "  $impl $label on $pid did not run: $why"
  "$PY" -c 'import json, sys; print(json.dumps({"impl": sys.argv[1], "kind": "trace", "label": sys.argv[2],
"problem_id": sys.argv[3], "error": sys.argv[4].strip() or "exited with an error"}))' \
    "$impl" "$label" "$pid" "$why" >"$out"
}
if runs strategies; then
  mkdir -p "$RESULTS/strategies"
  strategies_start=$(date +%s)
  STRATEGY_SEED_LIST="$(seq -s, 0 $((STRATEGY_SEEDS - 1)))"
  for item in "${STRATEGY_PROBLEMS[@]}"; do
    pid="${item%%=*}" spec="${item#*=}"
    kind="${spec%%:*}" table="${spec#*:}"
    if [[ ! -f $table ]]; then
      log "strategies: $table is missing; skipping $pid"
      continue
    fi
    for label in "${STRATEGY_NASFORGE[@]}"; do
      out="$RESULTS/strategies/nasforge_${label}_$pid.json"
      if [[ $label == rl && -n $RL_STATUS ]]; then
        "$PY" -c 'import json, sys; print(json.dumps({"impl": "nasforge", "kind": "trace", "label": "rl",
"problem_id": sys.argv[1], "error": sys.argv[2]}))' "$pid" "$RL_STATUS" >"$out"
        continue
      fi
      log "strategies nasforge $label $pid ($STRATEGY_SEEDS seeds x $STRATEGY_TRIALS queries)"
      # One torch thread for rl's controller: the machine is shared, and the controller is tiny.
      trace_or_error "$out" nasforge "$label" "$pid" -- env OMP_NUM_THREADS=1 "$BENCH" trace --label "$label" \
        --strategy "name: $label" --problem "$kind" --table "$table" --seeds "$STRATEGY_SEED_LIST" \
        --trials "$STRATEGY_TRIALS"
    done
    for label in "${STRATEGY_OPTUNA[@]}"; do
      log "strategies optuna $label $pid ($STRATEGY_SEEDS seeds x $STRATEGY_TRIALS queries)"
      trace_or_error "$RESULTS/strategies/optuna_${label}_$pid.json" optuna "$label" "$pid" -- \
        "$PY" "$ROOT/bench/optuna_bench.py" trace --strategy "$label" --problem "$kind" --table "$table" \
        --seeds "$STRATEGY_SEED_LIST" --trials "$STRATEGY_TRIALS"
    done
  done
  for run in "${COST_RUNS[@]}"; do
    impl="${run%%:*}" label="${run#*:}"
    out="$RESULTS/strategies/cost_${impl}_$label.json"
    log "strategies cost $impl $label hartmann6 ($COST_TRIALS trials, seeds $COST_SEEDS)"
    if [[ $impl == nasforge ]]; then
      trace_or_error "$out" "$impl" "$label" cost -- "$BENCH" trace --label "$label" --strategy "name: $label" \
        --problem hartmann6 --seeds "$COST_SEEDS" --trials "$COST_TRIALS"
    else
      trace_or_error "$out" "$impl" "$label" cost -- "$PY" "$ROOT/bench/optuna_bench.py" trace --strategy "$label" \
        --problem hartmann6 --seeds "$COST_SEEDS" --trials "$COST_TRIALS"
    fi
  done
  echo "{\"seconds\": $(( $(date +%s) - strategies_start ))}" >"$RESULTS/strategies/section_time.json"
fi

# ---------------------------------------------------------------------------------------- 6. concurrent workers
# N worker processes started at once against one fresh storage (SQLite file, or a fresh PostgreSQL database), a
# fixed total of trials; nasforge (`nasforge create` + N x `nasforge worker`) and Optuna (create_study + N x
# study.optimize) alternate per configuration. A tool that cannot use a storage leaves {"error": ...}.
if runs workers; then
  mkdir -p "$RESULTS/workers"
  PG_SERVER=""
  if [[ " ${WORKERS_STORAGES[*]} " == *" postgresql "* ]]; then
    log "workers: starting a throw-away PostgreSQL server in $PG_STATE"
    if bash "$ROOT/scripts/pg-test-server.sh" start "$PG_STATE" >"$TMP/pg.log" 2>&1; then
      PG_SERVER="$(cat "$PG_STATE/url")"
      psql "$PG_SERVER" -Atc 'SHOW server_version' >"$RESULTS/workers/postgres_version" 2>/dev/null || true
    else
      tail -3 "$TMP/pg.log" | tr '\n' ' ' >"$RESULTS/workers/postgres_error"
      log "workers: no PostgreSQL server: $(cat "$RESULTS/workers/postgres_error")"
    fi
  fi
  for rep in $(seq 1 "$WORKERS_REPEATS"); do
    for storage in "${WORKERS_STORAGES[@]}"; do
      for strategy in "${WORKERS_STRATEGIES[@]}"; do
        for n in "${WORKERS_COUNTS[@]}"; do
          for impl in nasforge optuna; do
            out="$RESULTS/workers/${impl}_${strategy}_${storage}_w${n}_r$rep.json"
            log "workers $impl $strategy $storage: $n worker(s), $WORKERS_TRIALS trials (repeat $rep/$WORKERS_REPEATS)"
            if [[ $storage == postgresql && -z $PG_SERVER ]]; then
              "$PY" -c 'import json, sys; print(json.dumps({"impl": sys.argv[1], "kind": "workers", "storage":
"postgresql", "workers": int(sys.argv[2]), "trials": int(sys.argv[3]), "strategy": sys.argv[4],
"repeat": int(sys.argv[5]), "error": "no PostgreSQL server: " + sys.argv[6]}))' "$impl" "$n" "$WORKERS_TRIALS" \
                "$strategy" "$rep" "$(cat "$RESULTS/workers/postgres_error")" >"$out"
              continue
            fi
            nasforge_arg=()
            [[ $impl == nasforge ]] && nasforge_arg=(--nasforge "$BUILD/nasforge")
            "$PY" "$ROOT/bench/workers_bench.py" "$impl" "${nasforge_arg[@]}" --storage "$storage" \
              --server "$PG_SERVER" --workers "$n" --trials "$WORKERS_TRIALS" --strategy "$strategy" \
              --repeat "$rep" --dir "$TMP" >"$out"
            "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print("  not measured: " + d["error"] if "error" in d else "  %.1f trials/s, %d finished, %d failed worker(s)" %
      (d["trials_per_s"], d["complete"], d["failed_workers"]))' "$out" >&2
          done
        done
      done
    done
  done
  bash "$ROOT/scripts/pg-test-server.sh" stop "$PG_STATE" || true
fi

# --------------------------------------------------------------------------------- 7. edge latency model
# bench/latency_model.py drives `nasforge target calibrate` and `target predict` on the measured table; `nasforge
# profile` times random networks of the quickstart space on this machine round-robin and reports its held-out fit.
if runs targets; then
  mkdir -p "$RESULTS/targets"
  if [[ -f $HW_TABLE ]]; then
    log "targets: calibrating on $TARGET_DRAWS draws of $TARGET_CALIBRATE measured NAS-Bench-201 networks per device"
    "$PY" "$ROOT/bench/latency_model.py" --nasforge "$BUILD/nasforge" --table "$HW_TABLE" --draws "$TARGET_DRAWS" \
      --calibrate "$TARGET_CALIBRATE" --out "$RESULTS/targets/nb201.json"
  else
    echo "$HW_TABLE is missing" >"$RESULTS/targets/nb201_missing"
  fi
  log "targets: nasforge profile of this machine ($PROFILE_NETWORKS networks, $PROFILE_RUNS rounds)"
  "$BUILD/nasforge" profile --out "$RESULTS/targets/host.yaml" --study-file "$PROFILE_STUDY" \
    --networks "$PROFILE_NETWORKS" --runs "$PROFILE_RUNS" --name host --force -q >"$RESULTS/targets/profile.txt" \
    2>"$RESULTS/targets/profile.err"
  echo "nasforge profile --study-file configs/quickstart.yaml --networks $PROFILE_NETWORKS --runs $PROFILE_RUNS" \
    >"$RESULTS/targets/profile_command"
fi

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

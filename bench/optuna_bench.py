#!/usr/bin/python3
"""Optuna half of bench/run.sh: the same protocols as nasforge_bench, printing the same JSON shape on stdout.

Needs Optuna 3.1 (Debian's python3-optuna, under /usr/bin/python3).

  optuna_bench.py overhead --strategy tpe --storage sqlite --trials 1000 --dir /tmp/x
  optuna_bench.py quality --problem nb201 --strategy random --seeds 0,1,2 --trials 200
  optuna_bench.py trace --problem hpolib --table t.csv.gz --strategy tpe --seeds 0,1,2 --trials 100
"""

import argparse
import json
import logging
import math
import os
import random
import sys
import time
import warnings

import optuna

from nb201 import HPOLIB_SPACE, NB201_EDGES, NB201_OPS, hpolib_key, load_hpolib, load_nb201, nb201_arch

# Each study would otherwise log a line per trial (and warn that multivariate TPE is experimental); that output
# is not part of what we measure.
optuna.logging.set_verbosity(optuna.logging.ERROR)
optuna.logging.disable_default_handler()
logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")

def branin(x):
    x0, x1 = x
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x1 - b * x0 ** 2 + c * x0 - 6) ** 2 + 10 * (1 - t) * math.cos(x0) + 10


HARTMANN6_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN6_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
HARTMANN6_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = sum(HARTMANN6_A[i][j] * (x[j] - 1e-4 * HARTMANN6_P[i][j]) ** 2 for j in range(6))
        total += HARTMANN6_ALPHA[i] * math.exp(-inner)
    return -total


class Problem:
    def __init__(self, name, table_path=None):
        self.name = name
        self.table = None
        if name == "branin":
            self.distributions = {
                "x0": optuna.distributions.FloatDistribution(-5, 10),
                "x1": optuna.distributions.FloatDistribution(0, 15),
            }
            self.direction = "minimize"
        elif name == "hartmann6":
            self.distributions = {f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(6)}
            self.direction = "minimize"
        elif name == "nb201":
            self.distributions = {e: optuna.distributions.CategoricalDistribution(NB201_OPS) for e in NB201_EDGES}
            self.direction = "maximize"
            self.table = load_nb201(table_path)
        elif name == "hpolib":
            self.distributions = {k: optuna.distributions.CategoricalDistribution(v) for k, v in HPOLIB_SPACE}
            self.direction = "minimize"
            self.table = load_hpolib(table_path)
        else:
            raise SystemExit(f"unknown problem {name!r}; expected branin, hartmann6, nb201 or hpolib")

    def evaluate(self, params, seed, number):
        """Objective value and, for NB201, (arch, mean over seeds) of the queried architecture."""
        if self.name == "branin":
            return branin([params["x0"], params["x1"]]), None
        if self.name == "hartmann6":
            return hartmann6([params[f"x{i}"] for i in range(6)]), None
        if self.name == "hpolib":
            arch = hpolib_key(params)
        else:
            arch = nb201_arch([params[e] for e in NB201_EDGES])
        values = self.table[arch]
        # The tabular protocol: each query returns one training seed drawn at random (noisy, like retraining).
        pick = random.Random(seed * 1_000_003 + number).randrange(len(values))
        return values[pick], (arch, sum(values) / len(values))


def make_sampler(strategy, seed):
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if strategy == "tpe_multivariate":
        return optuna.samplers.TPESampler(multivariate=True, seed=seed)
    raise SystemExit(f"unknown strategy {strategy!r}; expected random, tpe or tpe_multivariate")


def sqlite_wal_storage(url):
    """RDBStorage with the pragmas nasforge's SQLite backend uses (WAL journal, synchronous=NORMAL), to separate
    the cost of fsyncs from the rest. SQLAlchemy 1.4 opens a new connection per session for SQLite files, so
    the listener covers every connection after the schema is created."""
    import sqlalchemy

    storage = optuna.storages.RDBStorage(url)

    @sqlalchemy.event.listens_for(storage.engine, "connect")
    def _set_pragmas(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    return storage


def run_overhead(args):
    problem = Problem("branin")
    storage = None
    db = None
    if args.storage in ("sqlite", "sqlite_wal"):
        db = os.path.abspath(os.path.join(args.dir, f"optuna_overhead_{args.seed}.db"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        storage = "sqlite:///" + db  # absolute path: the four-slash form
        if args.storage == "sqlite_wal":
            storage = sqlite_wal_storage(storage)
    elif args.storage != "memory":
        raise SystemExit(f"unknown storage {args.storage!r}; expected memory, sqlite or sqlite_wal")
    study = optuna.create_study(study_name="bench", storage=storage, direction=problem.direction,
                                sampler=make_sampler(args.strategy, args.seed))
    ms = []
    for i in range(args.trials):
        start = time.perf_counter()
        trial = study.ask(problem.distributions)
        value, _ = problem.evaluate(trial.params, args.seed, trial.number)
        study.tell(trial, value)
        ms.append((time.perf_counter() - start) * 1000.0)
    complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    if complete != args.trials:
        raise SystemExit(f"only {complete} of {args.trials} trials completed")
    del study
    if db:
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
    return {"impl": "optuna", "kind": "overhead", "label": args.strategy, "strategy": args.strategy,
            "storage": args.storage, "trials": args.trials, "ms": ms}


def run_quality(args):
    problem = Problem(args.problem, args.table)
    maximize = problem.direction == "maximize"
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        study = optuna.create_study(direction=problem.direction, sampler=make_sampler(args.strategy, seed))
        extra = {}
        for _ in range(args.trials):
            trial = study.ask(problem.distributions)
            value, info = problem.evaluate(trial.params, seed, trial.number)
            extra[trial.number] = info
            study.tell(trial, value)
        seconds = time.perf_counter() - start
        best = None
        at = {}
        failed = 0
        for t in study.get_trials(deepcopy=False):
            if t.state == optuna.trial.TrialState.COMPLETE:
                if best is None or (t.value > best.value if maximize else t.value < best.value):
                    best = t
            else:
                failed += 1
            if t.number + 1 in checkpoints:
                entry = {"value": best.value if best else None}
                if best:
                    entry["number"] = best.number
                    entry["params"] = {k: str(v) for k, v in best.params.items()}
                    if extra[best.number]:
                        entry["arch"], entry["mean_metric"] = extra[best.number]
                at[str(t.number + 1)] = entry
        runs.append({"seed": seed, "seconds": seconds, "failed": failed, "best": at})
        print(f"  optuna {args.strategy} {args.problem} seed {seed}: {seconds:.2f} s", file=sys.stderr)
    return {"impl": "optuna", "kind": "quality", "label": args.strategy, "problem": args.problem,
            "strategy": args.strategy,
            "trials": args.trials, "runs": runs}


def run_trace(args):
    """Every trial's observed value, table mean (tabular problems) and ask + evaluate + tell time, per seed."""
    problem = Problem(args.problem, args.table)
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        study = optuna.create_study(direction=problem.direction, sampler=make_sampler(args.strategy, seed))
        values, means, ms = [], [], []
        for _ in range(args.trials):
            t0 = time.perf_counter()
            trial = study.ask(problem.distributions)
            value, info = problem.evaluate(trial.params, seed, trial.number)
            study.tell(trial, value)
            ms.append((time.perf_counter() - t0) * 1000.0)
            values.append(value)
            means.append(info[1] if info else None)
        seconds = time.perf_counter() - start
        runs.append({"seed": seed, "seconds": seconds, "failed": 0, "values": values, "means": means, "ms": ms})
        print(f"  optuna {args.strategy} {args.problem} seed {seed}: {seconds:.2f} s", file=sys.stderr)
    return {"impl": "optuna", "kind": "trace", "label": args.strategy, "problem": args.problem,
            "strategy": args.strategy, "trials": args.trials, "runs": runs}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    o = sub.add_parser("overhead", help="per-trial time of ask + branin + tell")
    o.add_argument("--strategy", default="tpe")
    o.add_argument("--storage", default="memory")
    o.add_argument("--trials", type=int, default=1000)
    o.add_argument("--dir", default="/tmp")
    o.add_argument("--seed", type=int, default=0)
    q = sub.add_parser("quality", help="best value found after k trials, per seed")
    q.add_argument("--problem", default="branin")
    q.add_argument("--strategy", default="tpe")
    q.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    q.add_argument("--trials", type=int, default=200)
    q.add_argument("--checkpoints", default="100,200")
    q.add_argument("--table", default="data/benchmarks/nasbench201/cifar10_valid.csv.gz")
    t = sub.add_parser("trace", help="every trial's value, table mean and time, per seed")
    t.add_argument("--problem", default="hartmann6")
    t.add_argument("--strategy", default="tpe")
    t.add_argument("--seeds", default="0")
    t.add_argument("--trials", type=int, default=100)
    t.add_argument("--table", default=None)
    args = parser.parse_args()
    out = {"overhead": run_overhead, "quality": run_quality, "trace": run_trace}[args.command](args)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

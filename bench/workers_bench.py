#!/usr/bin/python3
"""Workers section of bench/run.sh: N worker processes, all started at once against one fresh storage, run a fixed
total of cheap trials; prints one JSON document (wall time, trials/s, errors, exact-total check) on stdout.

  workers_bench.py nasforge --nasforge build/nasforge --storage sqlite --workers 4 --trials 400 --dir /tmp/x
  workers_bench.py optuna --storage postgresql --server postgresql://nasforge@127.0.0.1:5432/postgres --workers 4
  workers_bench.py optuna-worker ...   (internal: one Optuna worker process)

Both tools: Branin (no sleep), random sampler, the study created before the clock starts, then N processes started
back to back; wall = from before the first start to after the last exit; trials/s = finished trials / wall. The
span from the first stored trial start to the last stored trial end is recorded too (it leaves process start-up
out). PostgreSQL: a fresh database per configuration on the server given with --server (created and dropped here).
"""

import argparse
import collections
import datetime
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

STUDY = "workers"
SEED = 0


def fresh_database(server, name):
    """Creates database `name` on the server (dropping a leftover of that name) and returns its URL."""
    import psycopg2

    conn = psycopg2.connect(server)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return re.sub(r"/[^/?]*(\?.*)?$", "/" + name, server)


def drop_database(server, name):
    import psycopg2

    conn = psycopg2.connect(server)
    conn.autocommit = True
    with conn.cursor() as cur:
        # Workers are gone by now; FORCE only covers a connection a killed worker left behind.
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def storage_for(args, impl):
    """(URL for the tool, cleanup function)."""
    if args.storage == "sqlite":
        db = os.path.abspath(os.path.join(args.dir, f"{impl}_w{args.workers}_{os.getpid()}.db"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)

        def cleanup():
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)

        return "sqlite:///" + db, cleanup  # absolute path: the four-slash form, understood by both tools
    if args.storage == "postgresql":
        if not args.server:
            raise SystemExit("--storage postgresql needs --server URL")
        name = f"wk_{impl}_w{args.workers}_{os.getpid()}"
        url = fresh_database(args.server, name)
        if impl == "optuna":
            url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        return url, lambda: drop_database(args.server, name)
    raise SystemExit(f"unknown storage {args.storage!r}; expected sqlite or postgresql")


def parse_time(s):
    return datetime.datetime.fromisoformat(s) if isinstance(s, str) else s


def check_trials(trials):
    """trials: list of (number, state, start, complete). Counts, duplicate numbers, gaps, first-start-to-last-end."""
    states = collections.Counter(state for _, state, _, _ in trials)
    numbers = [n for n, _, _, _ in trials]
    dup = sum(c - 1 for c in collections.Counter(numbers).values() if c > 1)
    dense = sorted(set(numbers)) == list(range(len(set(numbers))))
    starts = [parse_time(s) for _, _, s, _ in trials if s]
    ends = [parse_time(e) for _, _, _, e in trials if e]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    return {"states": dict(states), "complete": states.get("COMPLETE", 0), "n_trials_stored": len(trials),
            "duplicate_numbers": dup, "numbers_dense": dense, "span_s": span}


def launch(commands, env=None):
    """Starts every command at once, waits for all; (wall seconds, [(exit code, stderr)], [stdout])."""
    files = [tempfile.TemporaryFile(mode="w+") for _ in commands]
    outs = [tempfile.TemporaryFile(mode="w+") for _ in commands]
    start = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=o, stderr=f, env=env) for c, f, o in zip(commands, files, outs)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    results, stdouts = [], []
    for code, f, o in zip(codes, files, outs):
        f.seek(0)
        o.seek(0)
        results.append((code, f.read()))
        stdouts.append(o.read())
        f.close()
        o.close()
    return wall, results, stdouts


def summarize_errors(results):
    """Failed workers and the distinct error lines they (or surviving workers) printed, with counts."""
    messages = collections.Counter()
    for code, err in results:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        # The last line of a Python traceback, or nasforge's "nasforge: error: ..." / warning lines.
        picked = [line for line in lines if re.search(r"error|warning|locked|Exception", line, re.I)]
        if code != 0 and lines and lines[-1] not in picked:
            picked.append(lines[-1])
        for line in picked:
            messages[line[:300]] += 1
    return {"failed_workers": sum(1 for code, _ in results if code != 0),
            "exit_codes": [code for code, _ in results],
            "messages": [{"message": m, "count": c} for m, c in messages.most_common(10)]}


def result(args, impl, wall, checked, errors, extra=None):
    doc = {"impl": impl, "kind": "workers", "storage": args.storage, "workers": args.workers, "trials": args.trials,
           "strategy": args.strategy, "repeat": args.repeat, "wall_s": wall, **checked, **errors}
    finished = checked["complete"]
    doc["trials_per_s"] = finished / wall if wall > 0 else None
    span = checked.get("span_s")
    doc["trials_per_s_span"] = finished / span if span else None
    doc["exact_total"] = (finished == args.trials and checked["n_trials_stored"] == args.trials and
                          checked["duplicate_numbers"] == 0 and checked["numbers_dense"])
    if extra:
        doc.update(extra)
    return doc


def not_measured(args, impl, why):
    return {"impl": impl, "kind": "workers", "storage": args.storage, "workers": args.workers, "trials": args.trials,
            "strategy": args.strategy, "repeat": args.repeat, "error": why}


# ------------------------------------------------------------------------------------------------- nasforge

STUDY_YAML = """\
study:
  name: {name}
  direction: minimize
  n_trials: {trials}
  seed: {seed}
strategy:
  name: {strategy}
space:
  x0: {{type: float, low: -5, high: 10}}
  x1: {{type: float, low: 0, high: 15}}
objective:
  kind: function
  name: branin
"""


def run_nasforge(args):
    try:
        url, cleanup = storage_for(args, "nasforge")
    except Exception as e:  # e.g. no PostgreSQL server
        return not_measured(args, "nasforge", f"no storage: {e}")
    try:
        yaml = os.path.join(args.dir, f"workers_{os.getpid()}.yaml")
        with open(yaml, "w") as f:
            f.write(STUDY_YAML.format(name=STUDY, trials=args.trials, seed=SEED, strategy=args.strategy))
        created = subprocess.run([args.nasforge, "create", yaml, "--storage", url], capture_output=True, text=True)
        if created.returncode != 0:
            why = (created.stderr.strip().splitlines() or ["exit code %d" % created.returncode])[-1]
            return not_measured(args, "nasforge", f"nasforge create failed: {why}")
        commands = [[args.nasforge, "worker", "--storage", url, "--study", STUDY, "--worker-index", str(k), "--quiet"]
                    for k in range(args.workers)]
        wall, results, _ = launch(commands)
        listed = subprocess.run([args.nasforge, "trials", "--storage", url, "--study", STUDY, "--format", "json"],
                                capture_output=True, text=True, check=True)
        trials = [(t["number"], t["state"], t.get("datetime_start"), t.get("datetime_complete"))
                  for t in json.loads(listed.stdout)]
        return result(args, "nasforge", wall, check_trials(trials), summarize_errors(results))
    finally:
        cleanup()


# --------------------------------------------------------------------------------------------------- Optuna


def branin(x0, x1):
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x1 - b * x0 ** 2 + c * x0 - 6) ** 2 + 10 * (1 - t) * math.cos(x0) + 10


def quiet_optuna():
    import logging
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.logging.disable_default_handler()
    logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    return optuna


def make_sampler(optuna, strategy, seed):
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise SystemExit(f"unknown strategy {strategy!r}; expected random or tpe")


def optuna_worker(args):
    """One worker process: load the study and optimize until `trials` trials are complete or running."""
    t0 = time.time()
    optuna = quiet_optuna()
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    imported = time.time()
    study = optuna.load_study(study_name=STUDY, storage=args.url,
                              sampler=make_sampler(optuna, args.strategy, SEED + 1000 * args.index))

    def objective(trial):
        return branin(trial.suggest_float("x0", -5, 10), trial.suggest_float("x1", 0, 15))

    # Counting running trials too stops a worker as soon as every slot is taken (not only once they are complete),
    # which is the closest Optuna gets to nasforge's capped ask; the check is not atomic, so the total can overshoot.
    study.optimize(objective, callbacks=[MaxTrialsCallback(args.trials, states=(TrialState.COMPLETE,
                                                                                 TrialState.RUNNING))])
    json.dump({"index": args.index, "start": t0, "imported": imported, "end": time.time()}, sys.stdout)


def run_optuna(args):
    optuna = quiet_optuna()
    try:
        url, cleanup = storage_for(args, "optuna")
    except Exception as e:
        return not_measured(args, "optuna", f"no storage: {e}")
    try:
        rdb = optuna.storages.RDBStorage(url)
        optuna.create_study(study_name=STUDY, storage=rdb, direction="minimize")
        commands = [[sys.executable, os.path.abspath(__file__), "optuna-worker", "--url", url, "--index", str(k),
                     "--trials", str(args.trials), "--strategy", args.strategy] for k in range(args.workers)]
        wall, results, stdouts = launch(commands)
        study = optuna.load_study(study_name=STUDY, storage=rdb)
        trials = [(t.number, t.state.name, t.datetime_start, t.datetime_complete)
                  for t in study.get_trials(deepcopy=False)]
        starts = [json.loads(s) for s in stdouts if s.strip()]
        extra = {}
        if starts:
            extra["import_s_max"] = max(s["imported"] - s["start"] for s in starts)
        # Release the parent's pooled connection before the database is dropped.
        rdb.engine.dispose()
        return result(args, "optuna", wall, check_trials(trials), summarize_errors(results), extra)
    finally:
        cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("nasforge", "optuna"):
        p = sub.add_parser(name, help=f"one {name} configuration")
        p.add_argument("--storage", default="sqlite", help="sqlite or postgresql")
        p.add_argument("--server", default=None, help="PostgreSQL server URL (a fresh database is created on it)")
        p.add_argument("--workers", type=int, default=1)
        p.add_argument("--trials", type=int, default=400)
        p.add_argument("--strategy", default="random")
        p.add_argument("--repeat", type=int, default=1)
        p.add_argument("--dir", default="/tmp")
        if name == "nasforge":
            p.add_argument("--nasforge", required=True, help="path of the nasforge executable")
    w = sub.add_parser("optuna-worker")
    w.add_argument("--url", required=True)
    w.add_argument("--index", type=int, required=True)
    w.add_argument("--trials", type=int, required=True)
    w.add_argument("--strategy", default="random")
    args = parser.parse_args()
    if args.command == "optuna-worker":
        optuna_worker(args)
        return
    out = run_nasforge(args) if args.command == "nasforge" else run_optuna(args)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

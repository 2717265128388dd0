#!/usr/bin/python3
"""Turns one bench/run.sh results folder into docs/benchmarks.md (standard library only).

  report.py RESULTS_DIR OUTPUT.md
"""

import glob
import json
import math
import os
import statistics
import sys

from nb201 import load_nb201

OPTIMA = {"branin": 0.397887, "hartmann6": -3.32237}
PROBLEM_TITLES = {
    "branin": "Branin (2-D, minimize, optimum 0.397887)",
    "hartmann6": "Hartmann6 (6-D, minimize, optimum -3.32237)",
    "nb201": "NAS-Bench-201 CIFAR-10 validation accuracy (6 categorical edges x 5 ops, maximize)",
}
STRATEGY_TITLES = {
    ("nasforge", "random"): "nasforge random",
    ("nasforge", "tpe"): "nasforge tpe (defaults)",
    ("nasforge", "tpe_univariate"): "nasforge tpe (multivariate: false)",
    ("nasforge", "tpe_multivariate"): "nasforge tpe (multivariate: true)",
    ("optuna", "random"): "Optuna RandomSampler",
    ("optuna", "tpe"): "Optuna TPESampler (defaults: univariate)",
    ("optuna", "tpe_multivariate"): "Optuna TPESampler(multivariate=True)",
}


# (nasforge, Optuna) TPE variants whose search quality is compared: the two defaults (the headline), then like with
# like.
VERDICT_PAIRS = [("tpe", "tpe"), ("tpe_multivariate", "tpe_multivariate"), ("tpe_univariate", "tpe")]


STORAGE_TITLES = {
    "memory": "memory",
    "sqlite": "SQLite",
    "sqlite_wal": "SQLite; Optuna given nasforge's pragmas (WAL, synchronous=NORMAL)",
}


def load(path):
    with open(path) as f:
        return json.load(f)


def title(impl, strategy):
    return STRATEGY_TITLES.get((impl, strategy), f"{impl} {strategy}")


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"
    return f"{x:.{digits}g}"


def mean_std(xs):
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def windows(n):
    """Trial windows (0-based half-open) at the start, 40-50% and the end: 1-100, 401-500, 901-1000 for 1000."""
    w = max(1, n // 10)
    return [(0, w), (4 * n // 10, 4 * n // 10 + w), (n - w, n)]


# ------------------------------------------------------------------------------------------------ overhead


def overhead_runs(results):
    """(impl, strategy, storage) -> the repeat with the median total time, plus every repeat's mean."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(results, "overhead", "*.json"))):
        d = load(path)
        groups.setdefault((d["impl"], d["label"], d["storage"]), []).append(d)
    chosen = {}
    for key, runs in groups.items():
        runs.sort(key=lambda d: sum(d["ms"]))
        median = runs[(len(runs) - 1) // 2]
        chosen[key] = {"run": median, "means": [statistics.fmean(d["ms"]) for d in runs]}
    return chosen


def overhead_section(meta, results, out):
    runs = overhead_runs(results)
    if not runs:
        out.append("_No overhead results in this run._\n")
        return []
    n = meta["overhead_trials"]
    target = meta["overhead_target"]
    wins = windows(n)
    win_names = [f"{a + 1}-{b}" for a, b in wins]
    misses = []

    out.append("| nasforge | Optuna 3.1 | storage | nasforge ms/trial | Optuna ms/trial | Optuna / nasforge | "
               f">= {target}x? |")
    out.append("|---|---|---|---:|---:|---:|:---:|")
    for ours, theirs in meta["pairs"]:
        for storage, optuna_storage in meta["storage_pairs"]:
            a = runs.get(("nasforge", ours, storage))
            b = runs.get(("optuna", theirs, optuna_storage))
            if not a or not b:
                continue
            ma = statistics.fmean(a["run"]["ms"])
            mb = statistics.fmean(b["run"]["ms"])
            ratio = mb / ma if ma > 0 else float("inf")
            ok = ratio >= target
            if not ok:
                misses.append(f"{title('nasforge', ours)} vs {title('optuna', theirs)}, "
                              f"{STORAGE_TITLES[optuna_storage]}: {ratio:.1f}x (nasforge {fmt(ma)} ms, "
                              f"Optuna {fmt(mb)} ms per trial)")
            out.append(f"| {title('nasforge', ours)} | {title('optuna', theirs)} | {STORAGE_TITLES[optuna_storage]} | "
                       f"{fmt(ma)} | {fmt(mb)} | "
                       f"{ratio:.1f}x | {'yes' if ok else '**NO**'} |")
    out.append("")
    out.append(f"Per-trial cost as the study grows (mean ms/trial over trials {', '.join(win_names)}; "
               "the same median repeat as above):\n")
    out.append("| implementation | strategy | storage | " + " | ".join(f"trials {w}" for w in win_names) +
               " | all repeats' means (ms) |")
    out.append("|---|---|---|" + "---:|" * len(wins) + "---|")
    for (impl, label, storage), r in sorted(runs.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        ms = r["run"]["ms"]
        cells = [fmt(statistics.fmean(ms[a:b])) for a, b in wins]
        reps = ", ".join(fmt(m) for m in r["means"])
        out.append(f"| {impl} | {label} | {storage} | " + " | ".join(cells) + f" | {reps} |")
    out.append("")
    return misses


# ------------------------------------------------------------------------------------------------- quality


def quality_runs(results):
    """(problem, impl, strategy) -> runs."""
    data = {}
    for path in sorted(glob.glob(os.path.join(results, "quality", "*.json"))):
        d = load(path)
        data[(d["problem"], d["impl"], d["label"])] = d
    return data


def score(problem, entry, nb201_table):
    """The run's score at a checkpoint: the best observed value, or for NB201 the mean over seeds of the arch
    the run recommends (the trial with the best noisy value)."""
    if entry is None or entry.get("value") is None:
        return None
    if problem != "nb201":
        return entry["value"]
    arch = entry["arch"]
    values = nb201_table[arch]
    mean = statistics.fmean(values)
    if "mean_metric" in entry and abs(entry["mean_metric"] - mean) > 1e-6:
        raise SystemExit(f"NB201 mean of {arch} disagrees: harness says {entry['mean_metric']}, table says {mean}")
    return mean


def verdict(problem, ours, theirs, n):
    """Compares two lists of per-seed scores; returns (answer to 'ours >= theirs?', explanation)."""
    ma, sa = mean_std(ours)
    mb, sb = mean_std(theirs)
    better = (ma > mb) if problem == "nb201" else (ma < mb)
    gain = (ma - mb) if problem == "nb201" else (mb - ma)  # > 0: nasforge better
    se = math.sqrt(sa ** 2 / len(ours) + sb ** 2 / len(theirs)) if ours and theirs else float("nan")
    if se > 0 and abs(gain) > 2 * se:
        sig = "difference > 2 standard errors"
    else:
        sig = "within 2 standard errors (not significant)"
    if better or gain == 0:
        return "yes", f"mean better by {fmt(abs(gain))}; {sig}"
    if se > 0 and abs(gain) <= 2 * se:
        return "tie", f"mean worse by {fmt(abs(gain))}; {sig}"
    return "**NO**", f"mean worse by {fmt(abs(gain))}; {sig}"


def quality_section(meta, results, out):
    data = quality_runs(results)
    if not data:
        out.append("_No quality results in this run._\n")
        return []
    table = load_nb201(meta["nb201_table"]) if any(p == "nb201" for p, _, _ in data) else None
    best_nb201 = max(statistics.fmean(v) for v in table.values()) if table else None
    checkpoints = [str(c) for c in meta["quality_checkpoints"]]
    misses = []
    verdict_rows = []
    for problem in meta["problems"]:
        rows = [(impl, label) for (p, impl, label) in data if p == problem]
        if not rows:
            continue
        order = {("nasforge", "tpe"): 0, ("optuna", "tpe"): 1, ("nasforge", "tpe_univariate"): 2,
                 ("nasforge", "tpe_multivariate"): 3, ("optuna", "tpe_multivariate"): 4, ("nasforge", "random"): 5,
                 ("optuna", "random"): 6}
        rows.sort(key=lambda r: order.get(r, 9))
        optimum = OPTIMA.get(problem, best_nb201)
        out.append(f"### {PROBLEM_TITLES[problem]}\n")
        head = ["sampler"]
        for c in checkpoints:
            head.append(f"best after {c} (mean ± std)")
            head.append(f"regret after {c}" if problem != "nb201" else f"gap to best arch after {c}")
        head.append("s per run")
        out.append("| " + " | ".join(head) + " |")
        out.append("|---|" + "---:|" * (len(head) - 1))
        scores = {}
        for impl, label in rows:
            d = data[(problem, impl, label)]
            cells = [title(impl, label)]
            for c in checkpoints:
                s = [score(problem, r["best"].get(c), table) for r in d["runs"]]
                s = [x for x in s if x is not None]
                scores[(impl, label, c)] = s
                m, sd = mean_std(s)
                gap = [abs(x - optimum) for x in s]
                mg, _ = mean_std(gap)
                cells.append(f"{fmt(m, 5)} ± {fmt(sd, 2)}")
                cells.append(fmt(mg, 3))
            secs = [r["seconds"] for r in d["runs"]]
            cells.append(fmt(statistics.fmean(secs), 2))
            out.append("| " + " | ".join(cells) + " |")
        n = len(data[(problem, rows[0][0], rows[0][1])]["runs"])
        out.append("")
        if problem == "nb201":
            out.append(f"Score = mean validation accuracy over seeds of the recommended architecture; the best "
                       f"architecture in the table has {fmt(best_nb201, 5)}.\n")
        for ours, theirs in VERDICT_PAIRS:
            for c in checkpoints:
                a = scores.get(("nasforge", ours, c))
                b = scores.get(("optuna", theirs, c))
                if not a or not b:
                    continue
                answer, why = verdict(problem, a, b, n)
                verdict_rows.append((problem, title("nasforge", ours), title("optuna", theirs), c, answer, why))
                if answer == "**NO**":
                    misses.append(f"{problem} after {c} trials: {title('nasforge', ours)} {fmt(mean_std(a)[0], 5)} "
                                  f"vs {title('optuna', theirs)} {fmt(mean_std(b)[0], 5)} ({why})")
    out.append("### Verdicts: nasforge TPE >= Optuna TPE?\n")
    out.append("'yes' = nasforge's mean is at least as good; 'tie' = worse mean but within 2 standard errors of the "
               "difference; **NO** = worse by more than 2 standard errors.\n")
    out.append("| problem | nasforge | Optuna | after trials | nasforge >= Optuna? | detail |")
    out.append("|---|---|---|---:|:---:|---|")
    for problem, ours, theirs, c, answer, why in verdict_rows:
        out.append(f"| {problem} | {ours} | {theirs} | {c} | {answer} | {why} |")
    out.append("")
    return misses


# -------------------------------------------------------------------------------------------------- driver


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    results, output = sys.argv[1], sys.argv[2]
    meta = load(os.path.join(results, "meta.json"))
    out = []
    out.append("# Benchmarks: nasforge vs Optuna 3.1\n")
    out.append("<!-- Generated by bench/report.py from one bench/run.sh run; do not edit by hand, rerun instead. -->\n")
    mode = "full mode"
    if meta["quick"]:
        mode = "quick mode: a smoke test with too few seeds and trials to conclude anything"
    out.append(f"Every number on this page comes from **one run** of `{meta['command']}` ({mode}), started "
               f"{meta['date']} and finished {meta.get('finished', '?')}, run id `{meta['run_id']}` (raw JSON: "
               f"`{meta['results_dir_rel']}/`, not committed). Rerun that command to regenerate this file.\n")
    out.append("## Setup\n")
    out.append(f"- Machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory']}; 1/5/15-minute load "
               f"average {meta['loadavg']} at the start and {meta.get('loadavg_end', '?')} at the end. The machine was "
               f"shared with other work, so absolute timings carry noise; both implementations ran under the same "
               f"conditions, interleaved.")
    out.append(f"- nasforge {meta['nasforge_version']} (git {meta['git']}), {meta['compiler']}, CMake build type "
               f"Release, SQLite library {meta['sqlite_lib']}.")
    out.append(f"- Optuna {meta['optuna']}, SQLAlchemy {meta['sqlalchemy']}, Python {meta['python']}, "
               f"Python sqlite3 module linked against SQLite {meta['python_sqlite']}.")
    out.append(f"- Harnesses: `bench/nasforge_bench.cc` (C++ ask/tell API, search/study.h) and "
               f"`bench/optuna_bench.py` (`study.ask(distributions)` / `study.tell`), same protocol, "
               f"run one after the other (never concurrently). Optuna logging is silenced.")
    out.append("- nasforge's `tpe` is multivariate (one joint estimator per group of co-occurring parameters) when "
               "every parameter is categorical and independent otherwise (see docs/strategies.md); Optuna 3.1's "
               "`TPESampler` defaults to independent (univariate) TPE. The tables compare the two defaults and also "
               "each like-for-like pair: nasforge `{name: tpe, multivariate: true}` vs "
               "`TPESampler(multivariate=True)`, and nasforge `{name: tpe, multivariate: false}` vs `TPESampler()`.")
    out.append("")

    out.append("## 1. Overhead per trial (sampler + storage)\n")
    out.append(f"Protocol: one study, {meta['overhead_trials']} sequential ask -> branin -> tell rounds (branin costs "
               f"well under a microsecond), timing each round with a monotonic clock; the study setup is not timed. "
               f"Space x0 in [-5, 10], x1 in [0, 15], seed 0. Storages: in-memory, and SQLite in a fresh file in a "
               f"temporary folder (nasforge `sqlite:////tmp/.../x.db`; Optuna `create_study(storage=\"sqlite:///"
               f"/tmp/.../x.db\")`, i.e. RDBStorage behind Optuna's usual cache). nasforge's SQLite backend runs "
               f"in WAL mode with synchronous=NORMAL (a commit survives a process crash, but the last commits can be "
               f"lost on power failure); Optuna uses SQLite's defaults (rollback journal, synchronous=FULL: an fsync "
               f"per commit), so one extra row gives Optuna the same pragmas. Each configuration ran "
               f"{meta['overhead_repeats_text']}, alternating nasforge and Optuna; the tables use the repeat with the "
               f"median total time. Target: Optuna / nasforge >= {meta['overhead_target']}x.\n")
    misses_o = overhead_section(meta, results, out)

    out.append("## 2. Search quality\n")
    out.append(f"Protocol: {meta['quality_trials']} trials per run, seeds {meta['quality_seeds_text']} (the seed "
               f"drives the sampler; for NB201 it also drives which training seed a query returns). After k "
               f"trials, a run recommends the first trial with the best observed value; branin and hartmann6 "
               f"report that value (regret = value - optimum), NAS-Bench-201 reports the *mean* validation "
               f"accuracy over the table's seeds of the recommended architecture, while the search itself only "
               f"saw one randomly drawn seed column per query (noisy). Lower is better for branin and hartmann6, "
               f"higher for NB201. Samplers run with their default options unless the row names one; both use "
               f"in-memory storage. Verdicts compare per-seed scores: the difference of the means against 2 "
               f"standard errors of that difference (n = number of seeds per sampler).\n")
    misses_q = quality_section(meta, results, out)

    out.append("## Targets\n")
    if misses_o:
        out.append(f"- Overhead target (Optuna / nasforge >= {meta['overhead_target']}x) **missed** in:")
        for m in misses_o:
            out.append(f"  - {m}")
    else:
        out.append(f"- Overhead target (Optuna / nasforge >= {meta['overhead_target']}x): met in every configuration "
                   f"measured.")
    if misses_q:
        out.append("- Search quality (nasforge TPE >= Optuna TPE): nasforge **worse by more than 2 standard errors** "
                   "in:")
        for m in misses_q:
            out.append(f"  - {m}")
    else:
        out.append("- Search quality (nasforge TPE >= Optuna TPE): nasforge is not worse by more than 2 standard "
                   "errors in any comparison measured (see the verdict table for where its mean is better or worse).")
    out.append("")
    with open(output, "w") as f:
        f.write("\n".join(out))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Turns one bench/run.sh results folder into docs/benchmarks.md (standard library only).

  report.py RESULTS_DIR OUTPUT.md
"""

import glob
import html
import json
import math
import os
import re
import statistics
import sys

from nb201 import load_hpolib, load_nb201

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


# ------------------------------------------------------------------------------------------------- training

TRAIN_PEERS = [("pytorch", "PyTorch"), ("pytorch_malloc", "PyTorch + nasforge's malloc settings")]


def train_runs(results):
    """(impl, network, threads) -> list of run documents (one per interleaved repeat)."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(results, "train", "*.json"))):
        if os.path.basename(path) == "cpu.json":
            continue
        d = load(path)
        groups.setdefault((d["impl"], d["network"], d["threads"]), []).append(d)
    return groups


def read_text(path, default="?"):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def train_section(meta, results, out):
    groups = train_runs(results)
    t = meta.get("train")
    if not groups or not t:
        out.append("_No training-throughput results in this run._\n")
        return []
    cpu = load(os.path.join(results, "train", "cpu.json"))
    peak = cpu["peak_gflops"]
    per_core = peak / cpu["cores"] if cpu["cores"] else float("nan")
    networks = [n["name"] for n in t["networks"]]
    sizes = "; ".join(f"{n['name']}: {n['epochs']} epoch(s) over {n['train_size']} samples" for n in t["networks"])
    any_run = next(iter(groups.values()))[0]
    h = any_run["hyperparameters"]
    out.append(f"Command: `bench/run.sh --only train` runs this section alone and re-renders this page with the "
               f"other sections' latest results (their run ids are listed at the top); `bench/run.sh` runs "
               f"everything.\n")
    out.append(f"Protocol: the same network trained by nasforge's own training path (`bench/train_bench.cc`: "
               f"`to_tensors` -> `GraphNet` -> `train_network`, the code the `train` objective runs) and by "
               f"idiomatic Python PyTorch {t.get('pytorch_deb', t['pytorch'])} (`bench/train_bench.py`: "
               f"`nn.Conv2d` / `nn.BatchNorm2d` / `nn.ReLU(inplace=True)` / `nn.Linear` modules built from the "
               f"nasforge graph's JSON, a forward that visits the graph's nodes in order, `torch.optim.SGD`). Both "
               f"load the same libtorch shared libraries, so every kernel is the same; the difference is the code "
               f"around the kernels. Data: synthetic uint8 1x28x28 images (Fashion-MNIST-shaped), 10 classes, held "
               f"in memory; per batch a shuffled index_select, conversion to float and per-channel normalization. "
               f"Training: batch size {t['batch_size']}, cross-entropy, SGD lr {h['lr']} ({h['schedule']} schedule "
               f"per iteration), momentum {h['momentum']}{' (Nesterov)' if h['nesterov'] else ''}, weight decay "
               f"{h['weight_decay']}; {sizes}. Timed: the epochs' training steps (shuffle, batch preparation, "
               f"forward, backward, optimizer step, one `loss.item()` per step), i.e. nasforge's "
               f"`TrainResult::images_per_s`; nasforge's per-epoch validation ({t['val_size']} samples) is not timed "
               f"and PyTorch runs none. Each process first trains another copy of the network for "
               f"{t['warmup_batches']} untimed batch(es) (oneDNN primitive creation, allocator warm-up), then once "
               f"for the measurement; both seed the weights and the shuffle identically, and the last epoch's "
               f"training loss is listed below as a check that both compute the same thing. Threads: "
               f"`torch::set_num_threads` / `torch.set_num_threads` to the row's value on both sides (libtorch's own "
               f"default on this machine: {any_run.get('default_threads', '?')} thread(s), the physical core count "
               f"as cpuinfo sees it). {t['repeats']} repeat(s), each running nasforge, PyTorch and PyTorch with "
               f"nasforge's malloc settings back to back for every network and thread count, so that load changes "
               f"hit all three; the table gives medians.\n")
    if t["threads"] == [1] and cpu["cores"] > 1:
        out.append(f"Only 1 thread was measured (run.sh's default): on this machine, shared with other work, a "
                   f"{cpu['cores']}-thread OpenMP team waits at every parallel region's barrier for whichever thread "
                   f"the scheduler has parked, so multi-threaded timings measure the load rather than the code. "
                   f"`bench/run.sh --only train --train-threads 1,{cpu['cores']}` adds rows on an idle machine.\n")
    out.append(f"nasforge's trainer raises glibc's mmap and trim thresholds to 1 GiB (`mallopt`, once per process, "
               f"evaluators/nn/trainer.cc): libtorch allocates CPU tensors with plain malloc, and with glibc's "
               f"defaults every step maps its larger activation and gradient buffers afresh and faults them in page "
               f"by page. The column \"PyTorch + nasforge's malloc settings\" runs the Python side with the same "
               f"settings through `GLIBC_TUNABLES={t['malloc_tunables']}`, which separates that effect from the "
               f"per-operation overhead of Python.\n")
    out.append(f"GFLOP/s convention: training FLOPs per image = 3 x 2 x MACs (forward: 2 FLOPs per "
               f"multiply-accumulate of the conv and linear layers as the cost model counts them; backward: about "
               f"twice the forward, for the input and weight gradients); BatchNorm, activations, pooling and the "
               f"optimizer are not counted. Peak: {cpu['cores']} cores (nproc) x {cpu['fp32_lanes']} fp32 lanes "
               f"({cpu['isa']}) x 2 FLOPs per FMA x {cpu['fma_units']} FMA units per core (assumed; not detectable "
               f"from /proc/cpuinfo) x {cpu['clock_ghz']:.2f} GHz ({cpu['clock_source']}) = "
               f"**{peak:.0f} GFLOP/s** ({per_core:.0f} per core). \"% of peak\" is given against the whole machine "
               f"and against the cores the run was allowed to use (threads x per-core peak). Load average (1/5/15 "
               f"min) at the start of this section {read_text(os.path.join(results, 'train', 'loadavg_start'))}, at "
               f"its end {read_text(os.path.join(results, 'train', 'loadavg_end'))}.\n")

    head = ["network", "genotype", "MMACs", "params", "threads", "nasforge img/s", "PyTorch img/s",
            "nasforge / PyTorch", ">= 1.0?", "PyTorch + malloc settings img/s", "nasforge / that",
            "nasforge GFLOP/s", "% of peak (all cores)", "% of peak (cores used)"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|")
    misses = []
    details = []
    for network in networks:
        for threads in t["threads"]:
            ours = groups.get(("nasforge", network, threads))
            if not ours:
                continue
            med = {}
            for impl in ["nasforge"] + [p for p, _ in TRAIN_PEERS]:
                rates = [d["images_per_s"] for d in groups.get((impl, network, threads), [])]
                med[impl] = statistics.median(rates) if rates else float("nan")
                losses = [d["train_loss"] for d in groups.get((impl, network, threads), [])]
                details.append((network, threads, impl, rates, losses))
            first = ours[0]
            macs = first["macs"]
            ratio = med["nasforge"] / med["pytorch"] if med["pytorch"] > 0 else float("nan")
            ratio_m = med["nasforge"] / med["pytorch_malloc"] if med["pytorch_malloc"] > 0 else float("nan")
            gflops = med["nasforge"] * 6 * macs / 1e9
            ok = ratio >= 1.0
            if not ok:
                misses.append(f"{network} with {threads} thread(s): nasforge {fmt(med['nasforge'])} img/s, PyTorch "
                              f"{fmt(med['pytorch'])} img/s ({ratio:.2f}x)")
            # A '|' inside a table cell must be escaped, also inside a code span (GitHub-flavoured Markdown).
            genotype = first["genotype"].replace("|", "\\|")
            out.append(f"| {network} | `{genotype}` | {macs / 1e6:.2f} | {first['params']} | {threads} | "
                       f"{fmt(med['nasforge'])} | {fmt(med['pytorch'])} | {ratio:.2f}x | "
                       f"{'yes' if ok else '**NO**'} | {fmt(med['pytorch_malloc'])} | {ratio_m:.2f}x | "
                       f"{gflops:.2f} | {100 * gflops / peak:.1f}% | {100 * gflops / (per_core * threads):.1f}% |")
    out.append("")
    out.append("Every repeat (img/s, in run order) and the last epoch's mean training loss of each run:\n")
    out.append("| network | threads | implementation | img/s per repeat | training loss per repeat |")
    out.append("|---|---:|---|---|---|")
    names = dict([("nasforge", "nasforge")] + TRAIN_PEERS)
    for network, threads, impl, rates, losses in details:
        out.append(f"| {network} | {threads} | {names.get(impl, impl)} | {', '.join(fmt(r) for r in rates)} | "
                   f"{', '.join(f'{x:.6f}' for x in losses)} |")
    out.append("")
    return misses


# ------------------------------------------------------------------------------------------------ strategies

STRATEGY_PROBLEM_TITLES = {
    "cifar10": "NAS-Bench-201 CIFAR-10",
    "cifar100": "NAS-Bench-201 CIFAR-100",
    "imagenet16": "NAS-Bench-201 ImageNet16-120",
    "naval": "HPOLib naval propulsion",
    "parkinsons": "HPOLib parkinsons telemonitoring",
    "protein": "HPOLib protein structure",
    "slice": "HPOLib slice localization",
}
STRATEGY_LABELS = {
    ("nasforge", "random"): "nasforge random",
    ("nasforge", "tpe"): "nasforge tpe",
    ("nasforge", "gp"): "nasforge gp",
    ("nasforge", "evolution"): "nasforge evolution",
    ("nasforge", "rl"): "nasforge rl",
    ("optuna", "tpe"): "Optuna TPESampler",
    ("optuna", "random"): "Optuna RandomSampler",
}
# Line colours of the regret plots (colour-blind-safe Okabe-Ito palette); Optuna lines are dashed.
PLOT_COLOURS = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#0072B2", "#999999"]


def strategy_title(impl, label):
    return STRATEGY_LABELS.get((impl, label), f"{impl} {label}")


def incumbent_means(run):
    """Per k = 1..n: the table mean of the first trial with the best observed value among the first k (None
    before the first complete trial). The observed value is noisy (one seed column); the score is not."""
    maximize = run["_maximize"]
    best, best_mean, out = None, None, []
    for value, mean in zip(run["values"], run["means"]):
        if value is not None and (best is None or (value > best if maximize else value < best)):
            best, best_mean = value, mean
        out.append(best_mean)
    return out


def compare(a, b, maximize):
    """'a beats b?' on per-seed scores: ('yes' | 'tie' | 'worse', gain of a over b, standard error of the
    difference). Beats = difference of means > 2 standard errors of the difference."""
    ma, sa = mean_std(a)
    mb, sb = mean_std(b)
    gain = (ma - mb) if maximize else (mb - ma)
    se = math.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b))
    if gain > 2 * se:
        return "yes", gain, se
    if gain < -2 * se:
        return "worse", gain, se
    return "tie", gain, se


def nice_ticks(lo, hi, n=5):
    span = hi - lo if hi > lo else (abs(hi) or 1.0)
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 12))
        t += step
    return ticks


def tick_text(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:g}"


def regret_svg(path, title_text, curves, log_y, y_label):
    """Writes a line plot (one polyline per strategy) of mean regret vs queries as a standalone SVG."""
    w, h = 720, 440
    left, right, top, bottom = 70, 200, 36, 52
    pw, ph = w - left - right, h - top - bottom
    n = max(len(c) for _, c, _, _ in curves)
    ys = [y for _, c, _, _ in curves for y in c if y is not None]
    floor = None
    if log_y:
        positive = [y for y in ys if y > 0]
        floor = (min(positive) / 2) if positive else 1e-12
        ys = [max(y, floor) for y in ys]
        lo, hi = math.log10(min(ys)), math.log10(max(ys))
        if hi - lo < 1:
            mid = (hi + lo) / 2
            lo, hi = mid - 0.5, mid + 0.5
        lo, hi = math.floor(lo * 10) / 10, math.ceil(hi * 10) / 10
        ticks = []
        for d in range(math.floor(lo), math.ceil(hi) + 1):
            for m in ((1, 2, 5) if hi - lo < 3 else (1,)):
                v = m * 10 ** d
                if lo - 1e-9 <= math.log10(v) <= hi + 1e-9:
                    ticks.append(v)
        ymap = lambda v: top + ph * (hi - math.log10(max(v, floor))) / (hi - lo)
    else:
        lo, hi = min(0.0, min(ys)), max(ys) * 1.05 if ys else 1.0
        ticks = nice_ticks(lo, hi)
        hi = max(hi, ticks[-1])
        ymap = lambda v: top + ph * (hi - v) / (hi - lo if hi > lo else 1.0)
    xmap = lambda k: left + pw * (k - 1) / max(1, n - 1)
    e = []
    e.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             f'font-family="sans-serif" font-size="12">')
    e.append(f'<rect width="{w}" height="{h}" fill="white"/>')
    e.append(f'<text x="{left + pw / 2}" y="20" text-anchor="middle" font-size="14">{html.escape(title_text)}</text>')
    for v in ticks:
        y = ymap(v)
        e.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        e.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_text(v)}</text>')
    for k in nice_ticks(0, n, 5):
        if k < 1:
            k = 1
        x = xmap(k)
        e.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="black"/>')
        e.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{int(k)}</text>')
    e.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    e.append(f'<text x="{left + pw / 2}" y="{h - 12}" text-anchor="middle">queries</text>')
    e.append(f'<text transform="translate(16 {top + ph / 2}) rotate(-90)" text-anchor="middle">'
             f'{html.escape(y_label)}</text>')
    for i, (name, c, dashed, colour) in enumerate(curves):
        pts = " ".join(f"{xmap(k + 1):.1f},{ymap(y):.1f}" for k, y in enumerate(c) if y is not None)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        e.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8"{dash} points="{pts}"/>')
        ly = top + 10 + 18 * i
        e.append(f'<line x1="{left + pw + 12}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" stroke="{colour}" '
                 f'stroke-width="1.8"{dash}/>')
        e.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{html.escape(name)}</text>')
    e.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


def load_table_means(kind, path):
    table = load_nb201(path) if kind == "nb201" else load_hpolib(path)
    return {k: statistics.fmean(v) for k, v in table.items()}


def strategies_section(meta, results, out, output):
    st = meta.get("strategies")
    if not st or not os.path.isdir(os.path.join(results, "strategies")):
        out.append("_No strategy-comparison results in this run._\n")
        return
    trials, n_seeds = st["trials"], st["seeds"]
    entries = [("nasforge", x) for x in st["nasforge"]] + [("optuna", x) for x in st["optuna"]]
    timing = os.path.join(results, "strategies", "section_time.json")
    seconds = load(timing)["seconds"] if os.path.exists(timing) else None
    out.append("Command: `bench/run.sh --only strategies` runs this section alone (and re-renders this page with "
               "the other sections' latest results); `bench/run.sh` runs it with everything else.\n")
    out.append(f"Protocol: each strategy with its **default options** (nasforge `{{name: <strategy>}}`; Optuna "
               f"`TPESampler(seed=s)` and `RandomSampler(seed=s)`) runs {trials} sequential queries on a tabular "
               f"benchmark, {n_seeds} seeds (0..{n_seeds - 1}) per strategy; the seed drives the sampler and which "
               f"training-seed column a query returns. Each query returns **one randomly drawn seed column** of the "
               f"queried configuration (noisy, like retraining; nasforge's `tabular` objective with `aggregate: "
               f"random`, and the same rule in `bench/optuna_bench.py`). After k queries a run recommends the first "
               f"trial with the best *observed* value; its score is that configuration's *mean* over the table's "
               f"seed columns (NAS-Bench-201: validation accuracy in %, maximize; HPOLib: validation MSE, minimize), "
               f"which the search never saw. Tables: mean ± standard deviation over seeds of the score after "
               f"{trials} queries, its standard error (std / sqrt(n)), and the regret against the table's optimum "
               f"(best mean). \"Beats random?\": 'yes' if the strategy's mean is better than nasforge random's by "
               f"more than 2 standard errors of the difference, 'worse' if worse by that much, 'tie' otherwise; "
               f"\"vs Optuna TPE\" applies the same test against `TPESampler`. Plots: mean regret over seeds vs "
               f"queries (NAS-Bench-201: optimum's mean accuracy minus the incumbent's; HPOLib: incumbent's mean MSE "
               f"minus the optimum's; log scale, so that the differences late in the search stay visible). The rl "
               f"strategy's controller runs with one torch thread.\n")
    out.append("Published reference points, **not directly comparable**: NAS-Bench-201 (Dong & Yang, ICLR 2020) "
               "reports, on CIFAR-10, optimum 91.61 % validation / 94.37 % test, REINFORCE 93.85 ± 0.37 % and "
               "random search 93.70 ± 0.36 % test accuracy; CIFAR-100 optimum 73.49 % validation, ImageNet16-120 "
               "optimum 46.77 % validation. Those searches ran on a 12-epoch proxy under a simulated time budget, "
               "and report test accuracy; this section uses the 200-epoch validation table and a fixed number of "
               "queries. The HPOLib best mean validation MSEs are naval 3.191e-5, parkinsons 6.706e-3, protein "
               "0.2214, slice 1.916e-4 (the optimum column below).\n")
    rl_status = st.get("rl_status")
    if "rl" in st["nasforge"] and rl_status:
        out.append(f"**rl did not run**: {rl_status}.\n")
    if seconds is not None:
        out.append(f"Wall time of this section (all problems, strategies and the cost curve, on the shared "
                   f"machine): {seconds / 60:.1f} min.\n")

    img_dir = os.path.join(os.path.dirname(os.path.abspath(output)), "img")
    summary = {}  # (impl, label) -> {pid: (beats random, vs optuna tpe)}
    not_run = {}  # (impl, label) -> error text
    shown_problems = []
    for prob in st["problems"]:
        pid, kind = prob["id"], prob["kind"]
        maximize = kind == "nb201"
        name = STRATEGY_PROBLEM_TITLES.get(pid, pid)
        if not prob["present"]:
            out.append(f"### {name}\n")
            out.append(f"_Skipped: the table `{prob['table_rel']}` was not there (not shipped; see "
                       f"../shared/benchmarks/README.md)._\n")
            continue
        means_table = load_table_means(kind, prob["table"])
        optimum = (max if maximize else min)(means_table.values())
        scores, curves, secs, failed_here = {}, {}, {}, set()
        for impl, label in entries:
            path = os.path.join(results, "strategies", f"{impl}_{label}_{pid}.json")
            if not os.path.exists(path):
                continue
            d = load(path)
            if "error" in d:
                not_run.setdefault((impl, label), d["error"])
                failed_here.add((impl, label))
                continue
            per_seed = []
            for r in d["runs"]:
                r["_maximize"] = maximize
                per_seed.append(incumbent_means(r))
            scores[(impl, label)] = [c[-1] for c in per_seed if c[-1] is not None]
            mean_curve = []
            for k in range(len(per_seed[0])):
                vals = [c[k] for c in per_seed if c[k] is not None]
                if not vals:
                    mean_curve.append(None)
                    continue
                m = statistics.fmean(vals)
                mean_curve.append(optimum - m if maximize else m - optimum)
            curves[(impl, label)] = mean_curve
            secs[(impl, label)] = statistics.fmean(r["seconds"] for r in d["runs"])
        if not scores:
            continue
        shown_problems.append(pid)
        unit = "validation accuracy %" if maximize else "validation MSE"
        f = (lambda x: f"{x:.2f}") if maximize else (lambda x: f"{x:.3g}")
        out.append(f"### {name} ({unit}, {'maximize' if maximize else 'minimize'}; table optimum {f(optimum)})\n")
        out.append(f"| strategy | score after {trials} (mean ± std) | std. error | median | regret (of the mean) | "
                   f"beats random? | vs Optuna TPE | s per run |")
        out.append("|---|---:|---:|---:|---:|:---:|:---:|---:|")
        base = scores.get(("nasforge", "random"))
        ref = scores.get(("optuna", "tpe"))
        for key in entries:
            if key not in scores:
                if key in failed_here:
                    out.append(f"| {strategy_title(*key)} | did not run | | | | | | |")
                continue
            s = scores[key]
            m, sd = mean_std(s)
            se = sd / math.sqrt(len(s)) if s else float("nan")
            regret = (optimum - m) if maximize else (m - optimum)
            cells = [strategy_title(*key), f"{f(m)} ± {f(sd)}", f(se), f(statistics.median(s)), f(regret)]
            vr = vo = ""
            if base and key != ("nasforge", "random") and key[1] != "random":
                ans, gain, dse = compare(s, base, maximize)
                vr = f"{ans} ({'+' if gain >= 0 else '-'}{f(abs(gain))} ± {f(dse)})"
                summary.setdefault(key, {}).setdefault(pid, [None, None])[0] = ans
            if ref and key != ("optuna", "tpe"):
                ans, gain, dse = compare(s, ref, maximize)
                word = {"yes": "better", "worse": "worse", "tie": "tie"}[ans]
                vo = f"{word} ({'+' if gain >= 0 else '-'}{f(abs(gain))})"
                summary.setdefault(key, {}).setdefault(pid, [None, None])[1] = word
            cells += [vr, vo, f"{secs[key]:.2f}"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        note = ("Verdict cells give the gain over the baseline (positive = better, in the score's unit) ± the "
                "standard error of the difference.")
        if not maximize:
            note += (" HPOLib scores are heavy-tailed: some configurations diverge on some training seeds, so a lucky "
                     "single-seed observation can make a run recommend a configuration whose mean MSE is far off, "
                     "and one such seed dominates the mean and std; the median is robust to it.")
        out.append(note + "\n")
        os.makedirs(img_dir, exist_ok=True)
        svg = os.path.join(img_dir, f"strategies_{pid}.svg")
        # Colours follow the strategy list, so a strategy keeps its colour in every plot.
        plot = [(strategy_title(*k), curves[k], k[0] == "optuna", PLOT_COLOURS[i % len(PLOT_COLOURS)])
                for i, k in enumerate(entries) if k in curves]
        y_label = "regret (accuracy %, optimum - incumbent)" if maximize else "regret (MSE, incumbent - optimum)"
        regret_svg(svg, f"{name}: mean regret over {n_seeds} seeds", plot, True, y_label)
        rel = os.path.relpath(svg, os.path.dirname(os.path.abspath(output)))
        out.append(f"![{name}: mean regret vs queries]({rel})\n")

    if not_run:
        for key, why in not_run.items():
            out.append(f"- **{strategy_title(*key)} did not run**: {why}")
        out.append("")
    if summary and shown_problems:
        out.append("### Summary: beats random? / vs Optuna TPE\n")
        out.append("Per problem: does the strategy beat nasforge random (difference of means > 2 standard errors), "
                   "and how it compares with Optuna's TPESampler (better / tie / worse by the same test).\n")
        out.append("| strategy | " + " | ".join(STRATEGY_PROBLEM_TITLES.get(p, p).replace("NAS-Bench-201 ", "NB201 ")
                                                 for p in shown_problems) + " |")
        out.append("|---|" + ":---:|" * len(shown_problems))
        for key in entries:
            if key not in summary:
                if key in not_run:
                    out.append(f"| {strategy_title(*key)} | " + " | ".join("did not run" for _ in shown_problems) +
                               " |")
                continue
            cells = []
            for p in shown_problems:
                a, b = summary[key].get(p, [None, None])
                parts = [x for x in (a and f"random: {a}", b and f"TPE: {b}") if x]
                cells.append(", ".join(parts) or "n/a")
            out.append(f"| {strategy_title(*key)} | " + " | ".join(cells) + " |")
        out.append("")

    # Per-trial cost as the study grows.
    cost = []
    for impl, label in st["cost_runs"]:
        path = os.path.join(results, "strategies", f"cost_{impl}_{label}.json")
        if os.path.exists(path):
            cost.append((impl, label, load(path)))
    if cost:
        n = st["cost_trials"]
        wins = [(a, min(a + 50, n)) for a in range(0, n, 50)]
        out.append("### Per-trial cost as the study grows (hartmann6)\n")
        out.append(f"One study of {n} trials on hartmann6 (6 floats) per row, seed(s) "
                   f"{', '.join(str(s) for s in st['cost_seeds'])}; mean ms per ask + evaluate + tell over each "
                   f"window of trials, default options. Timings on the shared machine (other builds running), so "
                   f"read them as orders of magnitude.\n")
        out.append("| strategy | " + " | ".join(f"trials {a + 1}-{b}" for a, b in wins) + " |")
        out.append("|---|" + "---:|" * len(wins))
        for impl, label, d in cost:
            if "error" in d:
                out.append(f"| {strategy_title(impl, label)} | did not run: {d['error']} |" + " |" * (len(wins) - 1))
                continue
            cells = []
            for a, b in wins:
                ms = [x for r in d["runs"] for x in r["ms"][a:b]]
                cells.append(fmt(statistics.fmean(ms)) if ms else "n/a")
            out.append(f"| {strategy_title(impl, label)} | " + " | ".join(cells) + " |")
        out.append("")


# --------------------------------------------------------------------------------------- concurrent workers

WORKERS_STORAGE_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
WORKERS_STRATEGY_TITLES = {
    "random": "Random sampler (nasforge `name: random`, Optuna `RandomSampler`)",
    "tpe": "TPE, each tool's defaults (nasforge `name: tpe`, Optuna `TPESampler()`)",
}


def workers_runs(results):
    """(impl, strategy, storage, workers) -> the repeats' documents."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(results, "workers", "*.json"))):
        d = load(path)
        groups.setdefault((d["impl"], d["strategy"], d["storage"], d["workers"]), []).append(d)
    return groups


def worker_errors(d):
    """Failed worker processes plus trials left failed or running."""
    states = d.get("states", {})
    return d.get("failed_workers", 0) + states.get("FAIL", 0) + states.get("RUNNING", 0)


def measured_values(docs, key):
    """`key` of each repeat that was measured and has it."""
    return [d[key] for d in docs if "error" not in d and d.get(key) is not None]


def workers_cell(docs, key):
    """Median over the measured repeats of docs' `key`, or None."""
    xs = measured_values(docs, key)
    return statistics.median(xs) if xs else None


def workers_rate(docs, key):
    """Median of `key` over the measured repeats, with the range when there are several."""
    xs = measured_values(docs, key)
    if not xs:
        return "not measured"
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}-{fmt(max(xs))})"


def total_check(docs, total):
    """'yes' when every repeat ended with exactly `total` finished trials, numbered 0..total-1 without duplicates."""
    measured = [d for d in docs if "error" not in d]
    if not measured:
        return "not measured"
    counts = sorted({d["complete"] for d in measured})
    dup = sum(d["duplicate_numbers"] for d in measured)
    if all(d["exact_total"] for d in measured):
        return f"yes ({total})"
    parts = [f"{'/'.join(str(c) for c in counts)} finished"]
    if dup:
        parts.append(f"{dup} duplicate number(s)")
    if not all(d["numbers_dense"] for d in measured):
        parts.append("gaps in the numbers")
    return "**no**: " + ", ".join(parts)


def workers_section(meta, results, out):
    w = meta.get("workers")
    groups = workers_runs(results)
    if not groups or not w:
        out.append("_No concurrent-workers results in this run._\n")
        return
    total = w["trials"]
    pg_version = read_text(os.path.join(results, "workers", "postgres_version"), "")
    pg_text = f"PostgreSQL {pg_version.split()[0]}" if pg_version else "PostgreSQL"
    out.append(f"Command: `bench/run.sh --only workers` runs this section alone and re-renders this page with the "
               f"other sections' latest results; `bench/run.sh` runs everything.\n")
    out.append(f"Protocol (`bench/workers_bench.py`, the same for both tools): one fresh storage per configuration "
               f"(a new SQLite file, or a new database created with `CREATE DATABASE` on a throw-away {pg_text} "
               f"server started by `scripts/pg-test-server.sh` on loopback with fsync off); the study is created "
               f"before the clock starts (nasforge: `nasforge create study.yaml`; Optuna: `create_study`), then N "
               f"worker processes are started back to back and run until the study has {total} trials. Objective: "
               f"Branin with no sleep (it costs well under a microsecond, so the rows measure the per-trial cost of "
               f"each tool's storage, coordination and process start-up, not of an objective); random sampler "
               f"(seeded per worker), so that sampling does not dominate"
               f"{'; a second table repeats everything with TPE' if 'tpe' in w.get('strategies', []) else ''}. nasforge workers are `nasforge worker "
               f"--storage URL --study NAME --worker-index k --quiet` and take a trial slot under the study's "
               f"n_trials = {total} in the same transaction as the new trial, so the total is exact by "
               f"construction; they run with the study file defaults (a heartbeat thread per trial, every 10 s). "
               f"Optuna workers are Python processes that `import optuna`, `load_study(storage=URL)` and call "
               f"`study.optimize` with `MaxTrialsCallback({total}, states=(COMPLETE, RUNNING))`, Optuna's documented "
               f"way to cap a distributed study; that check reads the study's trials after each trial (a cost included "
               f"here) and is not atomic, so Optuna can overshoot the total, and the table reports it. URLs: `sqlite:////tmp/.../x.db` for both; "
               f"`postgresql://nasforge@127.0.0.1:PORT/db` for nasforge and `postgresql+psycopg2://...` for Optuna "
               f"(SQLAlchemy {meta['sqlalchemy']}, psycopg2 {w.get('psycopg2', '?')}). On SQLite nasforge uses WAL "
               f"with synchronous=NORMAL and Optuna SQLite's defaults (section 1 shows that giving Optuna the same "
               f"pragmas barely changes its cost). Wall time: from before the first worker starts to after the last "
               f"one exits; trials/s = finished (COMPLETE) trials / wall time. The configurations alternate "
               f"nasforge and Optuna; {w['repeats']} repeat(s), the tables give the median trials/s and, in "
               f"parentheses, the range over the repeats. Errors = worker "
               f"processes that exited with an error + trials left failed or running, summed over the repeats.\n")
    strategies = w.get("strategies", ["random"])
    for strategy in strategies:
        if len(strategies) > 1:
            out.append(f"### {WORKERS_STRATEGY_TITLES.get(strategy, strategy)}\n")
        out.append(f"| storage | workers | nasforge trials/s | Optuna trials/s | nasforge / Optuna | errors (nasforge "
                   f"/ Optuna) | exactly {total} finished, no duplicate numbers? nasforge | same, Optuna |")
        out.append("|---|---:|---:|---:|---:|:---:|:---:|:---:|")
        span_rows = []
        not_measured = {}
        messages = []
        for storage in w["storages"]:
            for n in w["counts"]:
                docs = {impl: groups.get((impl, strategy, storage, n), []) for impl in ("nasforge", "optuna")}
                rates, spans = {}, {}
                for impl, ds in docs.items():
                    rates[impl] = workers_cell(ds, "trials_per_s")
                    spans[impl] = workers_cell(ds, "trials_per_s_span")
                    for d in ds:
                        if "error" in d:
                            not_measured.setdefault((impl, storage, d["error"]), []).append(n)
                        for m in d.get("messages", []):
                            messages.append((impl, storage, n, d["repeat"], m["message"], m["count"]))

                def ratio(values):
                    a, b = values["nasforge"], values["optuna"]
                    return f"{a / b:.1f}x" if a is not None and b else "n/a"

                errs = []
                for impl in ("nasforge", "optuna"):
                    measured = [d for d in docs[impl] if "error" not in d]
                    e = sum(worker_errors(d) for d in measured)
                    errs.append("n/a" if not measured else (f"**{e}**" if e else "0"))
                st = WORKERS_STORAGE_TITLES.get(storage, storage)
                out.append(f"| {st} | {n} | {workers_rate(docs['nasforge'], 'trials_per_s')} | "
                           f"{workers_rate(docs['optuna'], 'trials_per_s')} | {ratio(rates)} | "
                           f"{' / '.join(errs)} | {total_check(docs['nasforge'], total)} | "
                           f"{total_check(docs['optuna'], total)} |")
                imports = [d["import_s_max"] for d in docs["optuna"] if "import_s_max" in d]
                span_rows.append(f"| {st} | {n} | {workers_rate(docs['nasforge'], 'trials_per_s_span')} | "
                                 f"{workers_rate(docs['optuna'], 'trials_per_s_span')} | "
                                 f"{ratio(spans)} | "
                                 f"{fmt(statistics.median(imports), 2) if imports else 'n/a'} |")
        out.append("")
        for (impl, storage, why), ns in sorted(not_measured.items()):
            out.append(f"- **{'nasforge' if impl == 'nasforge' else 'Optuna'} on "
                       f"{WORKERS_STORAGE_TITLES.get(storage, storage)} not measured** "
                       f"({', '.join(str(n) for n in sorted(set(ns)))} worker(s)): {why}")
        if not_measured:
            out.append("")
        if messages:
            out.append("Error and warning lines the workers printed (distinct lines, with how many times):\n")
            for impl, storage, n, rep, m, c in messages:
                out.append(f"- {impl}, {WORKERS_STORAGE_TITLES.get(storage, storage)}, {n} worker(s), repeat {rep}: "
                           f"`{m}` x{c}")
            out.append("")
        out.append("The same runs without process start-up: trials/s over the span from the first stored trial's "
                   "start to the last trial's end (each tool's own timestamps), and how long the slowest Optuna "
                   "worker spent in `import optuna` (median over repeats; nasforge's start-up is a few ms):\n")
        out.append("| storage | workers | nasforge trials/s | Optuna trials/s | nasforge / Optuna | Optuna import s |")
        out.append("|---|---:|---:|---:|---:|---:|")
        out.extend(span_rows)
        out.append("")
        workers_summary(meta, groups, strategy, out, first=strategy == strategies[0])


def workers_summary(meta, groups, strategy, out, first):
    """A paragraph computed from the numbers: scaling with workers, the ratio range, errors and exact totals."""
    w = meta["workers"]
    cores = meta["cores"]
    text = ["What it shows:"]
    if first:
        text.append(f"this machine has {cores} cores, so at most {cores} workers compute at once; the rows with more "
                    f"workers than cores measure how each tool copes with contention (processes queueing for the CPU "
                    f"and for the storage's locks), not parallel speed-up. The machine was shared with other work "
                    f"(load average {meta['loadavg']} at the start of the run, {meta.get('loadavg_end', '?')} at its "
                    f"end), so single runs of well under a second vary a lot between repeats; read the medians and "
                    f"ranges as orders of magnitude.")
    ratios = []
    for storage in w["storages"]:
        parts = []
        for impl, name in (("nasforge", "nasforge"), ("optuna", "Optuna")):
            r = {n: workers_cell(groups.get((impl, strategy, storage, n), []), "trials_per_s") for n in w["counts"]}
            r = {n: v for n, v in r.items() if v is not None}
            if not r:
                continue
            lo, hi = min(r), max(r)
            best = max(r, key=r.get)
            parts.append(f"{name} goes from {fmt(r[lo])} trials/s with {lo} worker{'s' if lo > 1 else ''} to "
                         f"{fmt(r[hi])} with {hi} ({r[hi] / r[lo]:.2f}x; best {fmt(r[best])} with {best})")
        for n in w["counts"]:
            a = workers_cell(groups.get(("nasforge", strategy, storage, n), []), "trials_per_s")
            b = workers_cell(groups.get(("optuna", strategy, storage, n), []), "trials_per_s")
            if a is not None and b:
                ratios.append(a / b)
        if parts:
            text.append(f"On {WORKERS_STORAGE_TITLES.get(storage, storage)}, " + "; ".join(parts) + ".")
    if ratios:
        text.append(f"nasforge / Optuna ranges from {min(ratios):.{0 if min(ratios) >= 10 else 1}f}x to "
                    f"{max(ratios):.0f}x over the configurations measured.")
    docs = [d for (impl, s, _, _), ds in groups.items() if s == strategy for d in ds if "error" not in d]
    for impl, name in (("nasforge", "nasforge"), ("optuna", "Optuna")):
        mine = [d for d in docs if d["impl"] == impl]
        if not mine:
            continue
        errors = sum(worker_errors(d) for d in mine)
        exact = sum(1 for d in mine if d["exact_total"])
        over = [d["complete"] - d["trials"] for d in mine if d["complete"] > d["trials"]]
        sentence = (f"{name}: {errors} error{'' if errors == 1 else 's'} over {len(mine)} runs; exactly {w['trials']} finished trials without "
                    f"duplicate numbers in {exact} of {len(mine)} runs")
        if over:
            sentence += f" (overshot by up to {max(over)} trial{'s' if max(over) > 1 else ''} in {len(over)})"
        text.append(sentence + ".")
    out.append(" ".join(text) + "\n")


# ------------------------------------------------------------------------------------ 7. edge latency model

# The goals per measured column (mean Spearman over the draws) and the published predictors to compare with.
TARGET_SPEARMAN = {"gold_6226_ms": 0.98, "titanx_1_ms": 0.97, "samsung_s7_ms": 0.92}
PROFILE_GOALS = {"spearman": 0.95, "mdape": 0.10}


def targets_section(meta, results, out):
    """Renders section 7; returns the goals missed."""
    misses = []
    folder = os.path.join(results, "targets")
    out.append("Command: `bench/run.sh --only targets` runs this section alone (and re-renders this page with the "
               "other sections' latest results). No peer runs the same model, so the comparison is with ranking by "
               "MACs in the same run and with the figures HELP and BRP-NAS publish.\n")
    nb = os.path.join(folder, "nb201.json")
    if os.path.exists(nb):
        d = load(nb)
        out.append(f"**NAS-Bench-201 on measured devices.** `{d['table']}` (HW-NAS-Bench / HELP, "
                   f"shared/benchmarks/hw-latency/) holds measured batch-1 latencies of all {d['networks']:,} "
                   f"NAS-Bench-201 CIFAR-10 networks. Protocol (`bench/latency_model.py`): for each device, "
                   f"{d['draws']} times, draw {d['calibrate']} random networks, `nasforge target calibrate` the base "
                   f"profile to their measured latency (study file `configs/nb201_cells.yaml`: the cell space with "
                   f"`edges: all`, i.e. the graph NAS-Bench-201's reference code runs; `--input 3x32x32 --classes 10`), "
                   f"`nasforge target predict` every network and take the Spearman rank correlation with the measured "
                   f"latency over the {d['networks'] - d['calibrate']:,} networks not used. The model is the same "
                   f"per-kernel model as for chain networks; the base profile only says what the runtime fuses (PyTorch "
                   f"eager: nothing, `host`; TFLite: BatchNorm and activations, `pixel-3`). MACs: the Spearman of "
                   f"the MAC count with the measured latency over the same networks. Took {d['seconds']:.0f} s.\n")
        out.append("| device (column) | base profile | nasforge Spearman, mean of draws (min) | median abs. error | "
                   "MACs Spearman | goal | met? |")
        out.append("|---|---|---:|---:|---:|---:|:---:|")
        for x in d["devices"]:
            goal = TARGET_SPEARMAN.get(x["column"])
            met = goal is not None and x["spearman_mean"] >= goal
            if goal is not None and not met:
                misses.append(f"{x['column']}: mean Spearman {x['spearman_mean']:.3f} < {goal}")
            out.append(f"| {x['device']} (`{x['column']}`) | `{x['base']}` | {x['spearman_mean']:.3f} "
                       f"({x['spearman_min']:.3f}) | {100 * x['mdape_mean']:.1f}% | {x['spearman_macs_mean']:.3f} | "
                       f"{goal if goal is not None else '-'} | {'yes' if met else 'no'} |")
        out.append("")
        out.append("Published for comparison (other devices, other protocols, as their papers report them): HELP "
                   "(Lee et al., NeurIPS 2021) Spearman 0.89 on a Raspberry Pi 4 from 10 measured networks; BRP-NAS "
                   "(Dudziak et al., NeurIPS 2020) 0.85 from 900; FLOPs alone 0.85.\n")
    else:
        out.append(f"_The measured table is missing ({read_text(os.path.join(folder, 'nb201_missing'))}); the "
                   f"NAS-Bench-201 comparison did not run._\n")
    text = read_text(os.path.join(folder, "profile.txt"), "")
    m = re.search(r"held-out over (\d+) networks: Spearman ([-0-9.]+), median absolute error ([0-9.]+)%", text)
    command = read_text(os.path.join(folder, "profile_command"), "nasforge profile")
    if m:
        n, rho, mdape = int(m.group(1)), float(m.group(2)), float(m.group(3)) / 100
        ok = rho >= PROFILE_GOALS["spearman"] and mdape <= PROFILE_GOALS["mdape"]
        if not ok:
            misses.append(f"nasforge profile: Spearman {rho:.3f}, median error {100 * mdape:.1f}% on {n} held-out networks")
        out.append(f"**`nasforge profile` on this machine.** `{command}` times random networks of the quickstart "
                   f"chain space and single layers of them (libtorch eager, fp32, batch 1, 1 thread, round-robin so "
                   f"that a slow spell of the shared machine lands on every network alike), fits the profile to the "
                   f"layers and half of the networks and predicts the other {n} networks:\n")
        out.append("| held-out networks | Spearman | median abs. error | goal | met? |")
        out.append("|---:|---:|---:|---|:---:|")
        out.append(f"| {n} | {rho:.3f} | {100 * mdape:.1f}% | Spearman >= {PROFILE_GOALS['spearman']}, error <= "
                   f"{100 * PROFILE_GOALS['mdape']:.0f}% | {'yes' if ok else 'no'} |")
        out.append("")
        out.append("fp32 only: nasforge's int8 variants are simulated (fake-quantized) until real integer kernels "
                   "exist, so there is no int8 latency on this machine to check against yet.\n")
    else:
        out.append(f"_`nasforge profile` did not report a fit: {read_text(os.path.join(folder, 'profile.err'), '?')}_\n")
    return misses


# Section 4 is not measured by run.sh: it points to the compression results in docs/compression.md.
COMPRESSION_SECTION = """\
## 4. Compression (quantization, pruning, clustering)

Not a speed race against a peer, so no ratio: the accuracy, size, MAC and latency figures of compressed
candidates, measured on 2026-11-22 with `nasforge run configs/compress_fashion_mnist.yaml` (3m31s) and
`nasforge run configs/prune_cluster_fashion_mnist.yaml` (2m09s) on the machine above, are tabulated in
[compression.md](compression.md#results-on-fashion-mnist). Read them back from the folder the runs started in
with `nasforge trials --storage sqlite:///compress_fashion_mnist.db --study compress-fashion-mnist` and
`nasforge trials --storage sqlite:///prune_cluster_fashion_mnist.db --study prune-cluster --format json`.
"""


# -------------------------------------------------------------------------------------------------- driver


SECTION_TITLES = {"overhead": "1. overhead", "quality": "2. search quality", "train": "3. training throughput",
                  "strategies": "5. search strategies", "workers": "6. concurrent workers",
                  "targets": "7. edge latency model"}


def section_sources(results, meta):
    """section -> (results folder, that run's meta) for the sections this page shows; None when no run has it.
    A run made with `--only` names, per section, the run whose results it reuses (`section_runs`)."""
    runs = meta.get("section_runs")
    base = os.path.dirname(os.path.abspath(results))
    out = {}
    for section in SECTION_TITLES:
        if runs is None:
            has = os.path.isdir(os.path.join(results, section))
            out[section] = (results, meta) if has else None
        elif section in runs:
            folder = results if runs[section] == meta["run_id"] else os.path.join(base, runs[section])
            out[section] = (folder, load(os.path.join(folder, "meta.json")))
        else:
            out[section] = None
    return out


def mode_text(meta):
    if meta["quick"]:
        return "quick mode: a smoke test with too few seeds, trials and repeats to conclude anything"
    return "full mode"


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    results, output = sys.argv[1], sys.argv[2]
    meta = load(os.path.join(results, "meta.json"))
    sources = section_sources(results, meta)
    by_run = {}
    for section, src in sources.items():
        if src:
            by_run.setdefault(src[1]["run_id"], (src[1], []))[1].append(section)
    out = []
    out.append("# Benchmarks: nasforge vs Optuna 3.1 and PyTorch 1.13\n")
    out.append("<!-- Generated by bench/report.py from bench/run.sh results; do not edit by hand, rerun instead. -->\n")
    if len(by_run) <= 1:
        out.append(f"Every number on this page comes from **one run** of `{meta['command']}` ({mode_text(meta)}), "
                   f"started {meta['date']} and finished {meta.get('finished', '?')}, run id `{meta['run_id']}` (raw "
                   f"JSON: `{meta['results_dir_rel']}/`, not committed). Rerun that command to regenerate this file.\n")
    else:
        out.append(f"This page was rendered by `{meta['command']}` (run id `{meta['run_id']}`), which ran only some "
                   f"sections and took the others from the latest earlier run of the same mode. Each section's "
                   f"numbers come from **one run**, whose raw JSON stays under `build-bench/bench-results/<run id>/` "
                   f"(not committed); `bench/run.sh` alone reruns every section in one run.\n")
        for run_id, (m, sections) in sorted(by_run.items()):
            names = ", ".join(SECTION_TITLES[x] for x in sections)
            plural = "s" if len(sections) > 1 else ""
            out.append(f"- Section{plural} {names}: run id `{run_id}`, `{m['command']}` ({mode_text(m)}), started "
                       f"{m['date']}, finished {m.get('finished', '?')}, git {m['git']}; load average {m['loadavg']} "
                       f"at its start and {m.get('loadavg_end', '?')} at its end.")
        out.append("")
    out.append("## Setup\n")
    out.append(f"- Machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory']}; 1/5/15-minute load "
               f"average {meta['loadavg']} at the start and {meta.get('loadavg_end', '?')} at the end"
               f"{' of the run that rendered this page' if len(by_run) > 1 else ''}. The machine was "
               f"shared with other work, so absolute timings carry noise; the implementations compared ran under the "
               f"same conditions, interleaved.")
    out.append(f"- nasforge {meta['nasforge_version']} (git {meta['git']}), {meta['compiler']}, CMake build type "
               f"Release, SQLite library {meta['sqlite_lib']}.")
    out.append(f"- Optuna {meta['optuna']}, SQLAlchemy {meta['sqlalchemy']}, Python {meta['python']}, "
               f"Python sqlite3 module linked against SQLite {meta['python_sqlite']}.")
    if sources["train"]:
        tm = sources["train"][1]
        out.append(f"- PyTorch {tm['train']['pytorch']} (`torch.__version__` of Debian's python3-torch "
                   f"{tm['train'].get('pytorch_deb', '?')}); nasforge links the same Debian libtorch shared libraries "
                   f"(libtorch_cpu.so.1.13, oneDNN, libgomp).")
    out.append(f"- Harnesses: `bench/nasforge_bench.cc` (C++ ask/tell API, search/study.h) and "
               f"`bench/optuna_bench.py` (`study.ask(distributions)` / `study.tell`), same protocol, "
               f"run one after the other (never concurrently). Optuna logging is silenced. Training: "
               f"`bench/train_bench.cc` and `bench/train_bench.py` (section 3). Strategies: `nasforge_bench trace` and "
               f"`optuna_bench.py trace` (section 5). Concurrent workers: `bench/workers_bench.py` drives the "
               f"`nasforge` CLI and Optuna worker processes (section 6).")
    out.append("- nasforge's `tpe` is multivariate (one joint estimator per group of co-occurring parameters) when "
               "every parameter is categorical and independent otherwise (see docs/strategies.md); Optuna 3.1's "
               "`TPESampler` defaults to independent (univariate) TPE. The tables compare the two defaults and also "
               "each like-for-like pair: nasforge `{name: tpe, multivariate: true}` vs "
               "`TPESampler(multivariate=True)`, and nasforge `{name: tpe, multivariate: false}` vs `TPESampler()`.")
    out.append("")

    misses_o, misses_q, misses_t = [], [], []
    out.append("## 1. Overhead per trial (sampler + storage)\n")
    if sources["overhead"]:
        results_o, m = sources["overhead"]
        out.append(f"Protocol: one study, {m['overhead_trials']} sequential ask -> branin -> tell rounds (branin "
                   f"costs well under a microsecond), timing each round with a monotonic clock; the study setup is not "
                   f"timed. Space x0 in [-5, 10], x1 in [0, 15], seed 0. Storages: in-memory, and SQLite in a fresh "
                   f"file in a temporary folder (nasforge `sqlite:////tmp/.../x.db`; Optuna `create_study(storage="
                   f"\"sqlite:////tmp/.../x.db\")`, i.e. RDBStorage behind Optuna's usual cache). nasforge's SQLite "
                   f"backend runs in WAL mode with synchronous=NORMAL (a commit survives a process crash, but the last "
                   f"commits can be lost on power failure); Optuna uses SQLite's defaults (rollback journal, "
                   f"synchronous=FULL: an fsync per commit), so one extra row gives Optuna the same pragmas. Each "
                   f"configuration ran {m['overhead_repeats_text']}, alternating nasforge and Optuna; the tables use "
                   f"the repeat with the median total time. Target: Optuna / nasforge >= {m['overhead_target']}x.\n")
        misses_o = overhead_section(m, results_o, out)
    else:
        out.append("_No run has overhead results; run `bench/run.sh`._\n")

    out.append("## 2. Search quality\n")
    if sources["quality"]:
        results_q, m = sources["quality"]
        out.append(f"Protocol: {m['quality_trials']} trials per run, seeds {m['quality_seeds_text']} (the seed "
                   f"drives the sampler; for NB201 it also drives which training seed a query returns). After k "
                   f"trials, a run recommends the first trial with the best observed value; branin and hartmann6 "
                   f"report that value (regret = value - optimum), NAS-Bench-201 reports the *mean* validation "
                   f"accuracy over the table's seeds of the recommended architecture, while the search itself only "
                   f"saw one randomly drawn seed column per query (noisy). Lower is better for branin and hartmann6, "
                   f"higher for NB201. Samplers run with their default options unless the row names one; both use "
                   f"in-memory storage. Verdicts compare per-seed scores: the difference of the means against 2 "
                   f"standard errors of that difference (n = number of seeds per sampler).\n")
        misses_q = quality_section(m, results_q, out)
    else:
        out.append("_No run has search-quality results; run `bench/run.sh`._\n")

    def measured_section(title, key, render, only):
        """A section drawn from its run's results, or a line saying which command produces them; render's result."""
        out.append(f"## {title}\n")
        if sources[key]:
            folder, m = sources[key]
            return render(m, folder)
        out.append(f"_No run has {only[0]} results; run `bench/run.sh{only[1]}`._\n")
        return []

    misses_t = measured_section("3. Training throughput vs PyTorch (Python)", "train",
                                lambda m, r: train_section(m, r, out), ("training-throughput", " --only train"))
    out.append(COMPRESSION_SECTION)
    measured_section("5. Search strategies on tabular NAS and HPO benchmarks", "strategies",
                     lambda m, r: strategies_section(m, r, out, output), ("strategy-comparison", " --only strategies"))
    measured_section("6. Concurrent workers on SQLite and PostgreSQL", "workers",
                     lambda m, r: workers_section(m, r, out), ("concurrent-workers", " --only workers"))
    misses_e = measured_section("7. Edge latency model: predicted vs measured", "targets",
                                lambda m, r: targets_section(m, r, out), ("latency-model", " --only targets"))

    out.append("## Targets\n")
    def goal(misses, missed, met):
        """One bullet: the goal met, or missed with each miss under it."""
        if misses:
            out.append(missed)
            out.extend(f"  - {x}" for x in misses)
        else:
            out.append(met)

    if sources["overhead"]:
        target = sources["overhead"][1]["overhead_target"]
        goal(misses_o, f"- Overhead target (Optuna / nasforge >= {target}x) **missed** in:",
             f"- Overhead target (Optuna / nasforge >= {target}x): met in every configuration measured.")
    if sources["quality"]:
        goal(misses_q, "- Search quality (nasforge TPE >= Optuna TPE): nasforge **worse by more than 2 standard "
                       "errors** in:",
             "- Search quality (nasforge TPE >= Optuna TPE): nasforge is not worse by more than 2 standard "
             "errors in any comparison measured (see the verdict table for where its mean is better or worse).")
    if sources["train"]:
        goal(misses_t, "- Training throughput (nasforge / PyTorch >= 1.0) **missed** in:",
             "- Training throughput (nasforge / PyTorch >= 1.0): met for every network and thread count measured.")
    if sources["targets"]:
        goal(misses_e, "- Edge latency model goals **missed**:",
             "- Edge latency model (NAS-Bench-201 Spearman >= 0.98 / 0.97 / 0.92 on the three devices; "
             "`nasforge profile` Spearman >= 0.95 and median error <= 10% on held-out networks): met.")
    out.append("")
    with open(output, "w") as f:
        f.write("\n".join(out))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()

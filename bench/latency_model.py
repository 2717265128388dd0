#!/usr/bin/env python3
"""Checks nasforge's per-kernel latency model against measured NAS-Bench-201 latencies (standard library only).

For each device column of the HW-NAS-Bench / HELP table (shared/benchmarks/hw-latency/), DRAWS times: pick
CALIBRATE random networks, `nasforge target calibrate` a shipped base profile to their measured latencies, then
`nasforge target predict` every network and take the Spearman rank correlation of predicted and measured latency
over the networks not used in the fit; ranking by MACs (what a FLOPs proxy gives, no measurement at all) over the
same networks is the baseline. Writes one JSON document (stdout or --out) for bench/report.py.

    bench/latency_model.py --nasforge build/nasforge --table ../shared/benchmarks/hw-latency/nb201_cifar10_latency.csv.gz
"""

import argparse
import csv
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Column -> (shipped base profile whose runtime matches the measurement, what the column is). The base gives the
# fusion rules (what the runtime runs as one kernel); calibration fits every coefficient.
DEVICES = {
    "gold_6226_ms": ("host", "Intel Xeon Gold 6226 CPU, PyTorch"),
    "titanx_1_ms": ("host", "NVIDIA Titan X GPU, PyTorch, batch 1"),
    "samsung_s7_ms": ("pixel-3", "Samsung Galaxy S7 CPU, TFLite"),
}


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    den = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return num / den


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"latency_model.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def predict(nasforge, study, target, genotypes_path):
    out = run([nasforge, "target", "predict", "--target", target, "--study-file", study, "--input", "3x32x32",
               "--classes", "10", "--genotypes", genotypes_path, "--format", "csv"])
    rows = list(csv.DictReader(out.splitlines()))
    return {r["genotype"]: r for r in rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nasforge", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--study", default=os.path.join(HERE, "..", "configs", "nb201_cells.yaml"))
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--calibrate", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", action="append", default=[], metavar="COLUMN=PROFILE",
                    help="start COLUMN's calibration from PROFILE (a name or file) instead of the default")
    ap.add_argument("--columns", help="comma-separated subset of " + ", ".join(DEVICES))
    ap.add_argument("--out")
    args = ap.parse_args()
    devices = dict(DEVICES)
    for item in args.base:
        column, _, profile = item.partition("=")
        if column not in devices or not profile:
            sys.exit(f"latency_model.py: --base {item}: expected COLUMN=PROFILE with COLUMN one of {', '.join(DEVICES)}")
        devices[column] = (profile, devices[column][1])
    if args.columns:
        devices = {c: devices[c] for c in args.columns.split(",")}
    started = time.time()
    with gzip.open(args.table, "rt", newline="") as f:
        table = list(csv.DictReader(f))
    archs = [r["arch"] for r in table]
    measured = {r["arch"]: r for r in table}
    with tempfile.TemporaryDirectory() as tmp:
        genotypes = os.path.join(tmp, "genotypes.txt")
        with open(genotypes, "w") as f:
            f.write("\n".join(archs) + "\n")
        # MACs do not depend on the target; one prediction run gives them for every network.
        macs = {g: float(r["macs"]) for g, r in predict(args.nasforge, args.study, "generic", genotypes).items()}
        result = {"table": os.path.basename(args.table), "networks": len(table),
                  "draws": args.draws, "calibrate": args.calibrate, "seed": args.seed, "devices": []}
        for column, (base, what) in devices.items():
            rng = random.Random(f"{args.seed}:{column}")
            draws = []
            for d in range(args.draws):
                fit = set(rng.sample(archs, args.calibrate))
                csv_path = os.path.join(tmp, f"{column}_{d}.csv")
                with open(csv_path, "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["genotype", "latency_ms"])
                    for g in sorted(fit):
                        w.writerow([g, measured[g][column]])
                profile = os.path.join(tmp, f"{column}_{d}.yaml")
                run([args.nasforge, "target", "calibrate", "--target", base, "--study-file", args.study,
                     "--input", "3x32x32", "--classes", "10", "--measured", csv_path, "--out", profile, "--force"])
                pred = predict(args.nasforge, args.study, profile, genotypes)
                rest = [g for g in archs if g not in fit]
                y = [float(measured[g][column]) for g in rest]
                p = [float(pred[g]["latency_ms"]) for g in rest]
                ape = sorted(abs(a - b) / b for a, b in zip(p, y))
                draws.append({"spearman": spearman(p, y), "spearman_macs": spearman([macs[g] for g in rest], y),
                              "mdape": ape[len(ape) // 2], "evaluated": len(rest)})
                print(f"{column} draw {d + 1}/{args.draws}: spearman {draws[-1]['spearman']:.4f} "
                      f"(MACs {draws[-1]['spearman_macs']:.4f})", file=sys.stderr)
            result["devices"].append({
                "column": column, "device": what, "base": base, "draws": draws,
                "spearman_mean": statistics.fmean(x["spearman"] for x in draws),
                "spearman_min": min(x["spearman"] for x in draws),
                "spearman_macs_mean": statistics.fmean(x["spearman_macs"] for x in draws),
                "mdape_mean": statistics.fmean(x["mdape"] for x in draws)})
    result["seconds"] = time.time() - started
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()

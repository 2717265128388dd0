#!/usr/bin/python3
"""Training-throughput benchmark, Python half: trains the network that nasforge_train_bench printed, written in
plain PyTorch (nn.Conv2d / nn.BatchNorm2d / nn.ReLU(inplace=True) / nn.Linear modules and a forward that runs
the graph's nodes in order), on the same data with the same optimizer, schedule, batches and thread count, and
prints one JSON document with images/s. Run it with Debian's /usr/bin/python3 (python3-torch 1.13).

  train_bench.py run --graph small.json --data small.bin [--epochs 2 --threads 2 --repeats 1 --label pytorch]
  train_bench.py cpu          # this CPU's fp32 peak (JSON), for the GFLOP/s column of docs/benchmarks.md

Timing mirrors nasforge's TrainResult::images_per_s: the wall time of each epoch's training steps (shuffle,
batch gather and normalization, forward, backward, optimizer step, one loss.item() per step); the validation pass
nasforge runs after each epoch is not timed there, so it is left out here. One untimed warm-up epoch on the
first --warmup-batches batches with another copy of the network comes first, as in the C++ harness.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time


# ------------------------------------------------------------------------------------------------- CPU peak


def cpu_peak():
    """fp32 peak of this machine: cores x FMA lanes x 2 flops per FMA x FMA units x clock."""
    flags, mhz, model = set(), [], "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "cpu MHz":
                mhz.append(float(value))
            elif key == "model name" and model == "?":
                model = value.strip()
    if "avx512f" in flags:
        isa, lanes = "AVX-512 (avx512f)", 16
    elif "avx2" in flags and "fma" in flags:
        isa, lanes = "AVX2 + FMA", 8
    elif "avx" in flags:
        isa, lanes = "AVX (no FMA: counted as 1 mul + 1 add)", 8
    else:
        isa, lanes = "SSE", 4
    cores = os.cpu_count() or 1
    fma_units = 2
    clock_ghz = (max(mhz) if mhz else 0.0) / 1000.0
    peak = cores * lanes * 2 * fma_units * clock_ghz
    return {"model": model, "cores": cores, "isa": isa, "fp32_lanes": lanes, "fma_units": fma_units,
            "clock_ghz": clock_ghz, "clock_source": "/proc/cpuinfo 'cpu MHz' (highest over cores, as reported "
            "at benchmark time; not the turbo clock)", "peak_gflops": peak}


# --------------------------------------------------------------------------------------------------- network


def build(graph, shapes):
    """The graph as an nn.Module whose forward visits the nodes in order, like nasforge's GraphNet."""
    import torch
    from torch import nn

    def activation(name, inplace=True):
        # In place only where the input is private to the node (after a conv / BN), as nasforge's GraphNet does.
        return {"none": None, "relu": nn.ReLU(inplace=inplace), "relu6": nn.ReLU6(inplace=inplace),
                "hswish": nn.Hardswish(), "sigmoid": nn.Sigmoid(), "hsigmoid": nn.Hardsigmoid()}[name]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            nodes = graph["nodes"]
            self.layers = nn.ModuleDict()
            self.plan = []  # (index, kind, module key or None, inputs, node)
            last_use = list(range(len(nodes)))
            for i, n in enumerate(nodes):
                for j in n["inputs"]:
                    last_use[j] = max(last_use[j], i)
            last_use[graph["output"]] = len(nodes)
            for i, n in enumerate(nodes):
                kind, key = n["kind"], None
                if i > 0:
                    in_c = shapes[n["inputs"][0]][0]
                if kind == "conv":
                    mods = [nn.Conv2d(in_c, n["out_channels"], n["kernel"], stride=n["stride"], padding=n["padding"],
                                      groups=n["groups"], bias=n["bias"])]
                    if n["batch_norm"]:
                        mods.append(nn.BatchNorm2d(n["out_channels"]))
                    act = activation(n["act"])
                    if act is not None:
                        mods.append(act)
                    key = f"n{i}"
                    self.layers[key] = nn.Sequential(*mods) if len(mods) > 1 else mods[0]
                elif kind == "linear":
                    c, h, w = shapes[n["inputs"][0]]
                    mods = [nn.Flatten(1), nn.Linear(c * h * w, n["out_channels"], bias=n["bias"])]
                    act = activation(n["act"], inplace=False)
                    if act is not None:
                        mods.append(act)
                    key = f"n{i}"
                    self.layers[key] = nn.Sequential(*mods)
                elif kind == "batch_norm":
                    key = f"n{i}"
                    self.layers[key] = nn.BatchNorm2d(in_c)
                elif kind == "activation":
                    key = f"n{i}"
                    self.layers[key] = activation(n["act"], inplace=False) or nn.Identity()
                elif kind == "dropout":
                    key = f"n{i}"
                    self.layers[key] = nn.Dropout(n["p"])
                elif kind == "avg_pool":
                    key = f"n{i}"
                    self.layers[key] = nn.AvgPool2d(n["kernel"], n["stride"], n["padding"], count_include_pad=False)
                elif kind == "max_pool":
                    key = f"n{i}"
                    self.layers[key] = nn.MaxPool2d(n["kernel"], n["stride"], n["padding"])
                elif kind not in ("input", "global_avg_pool", "add", "mul"):
                    raise SystemExit(f"train_bench.py: node kind '{kind}' is not supported")
                release = [j for j in n["inputs"] if last_use[j] == i]
                self.plan.append((i, kind, key, n["inputs"], release))
            self.output = graph["output"]

        def forward(self, x):
            out = [None] * len(self.plan)
            out[0] = x
            for i, kind, key, inputs, release in self.plan[1:]:
                a = out[inputs[0]]
                if key is not None:
                    y = self.layers[key](a)
                elif kind == "global_avg_pool":
                    y = a.mean((2, 3), keepdim=True)
                elif kind == "add":
                    y = a
                    for j in inputs[1:]:
                        y = y + out[j]
                else:  # mul
                    y = a * out[inputs[1]]
                out[i] = y
                for j in release:
                    out[j] = None
            y = out[self.output]
            return y.flatten(1) if y.dim() > 2 else y

    return Net()


# -------------------------------------------------------------------------------------------------- training


def learning_rate(h, it, iters_per_epoch):
    """nasforge's learning_rate() (evaluators/nn/trainer.cc), without warm-up."""
    total = h["epochs"] * iters_per_epoch
    if h["schedule"] == "cosine":
        progress = min(1.0, max(0.0, it / max(1.0, total)))
        return h["lr"] * 0.5 * (1 + math.cos(math.pi * progress))
    if h["schedule"] == "constant":
        return h["lr"]
    raise SystemExit(f"train_bench.py: schedule '{h['schedule']}' is not supported")


def train(net, x_all, y_all, mean, std, h, epochs, batch, seed):
    """Trains like nasforge's train_network() without validation; returns (images/s, last epoch's mean loss)."""
    import torch
    import torch.nn.functional as F

    n = y_all.shape[0]
    batch = min(batch, n)
    iters = n // batch + (1 if n % batch > 1 else 0)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"],
                          weight_decay=h["weight_decay"])
    it, seconds, samples, loss_mean = 0, 0.0, 0, 0.0
    for _ in range(epochs):
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        loss_sum, seen = 0.0, 0
        for b in range(iters):
            idx = perm[b * batch:min(n, (b + 1) * batch)]
            x = x_all.index_select(0, idx).float().sub_(mean).div_(std)
            y = y_all.index_select(0, idx)
            lr = learning_rate(h, it, iters)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = loss.item()
            if not math.isfinite(value):
                raise SystemExit(f"train_bench.py: loss is {value} at iteration {it}")
            loss_sum += value * idx.shape[0]
            seen += idx.shape[0]
            it += 1
        seconds += time.perf_counter() - t0
        samples += seen
        loss_mean = loss_sum / seen
    return samples / seconds, loss_mean, it


def run(args):
    import torch

    spec = json.load(open(args.graph))
    default_threads = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    shape = spec["graph"]["nodes"][0]["shape"]
    n = spec["train_size"]
    numel = n * shape[0] * shape[1] * shape[2]
    raw = open(args.data, "rb").read()
    if len(raw) != numel + 8 * n:
        raise SystemExit(f"train_bench.py: {args.data} has {len(raw)} bytes, expected {numel + 8 * n}")
    x_all = torch.frombuffer(bytearray(raw[:numel]), dtype=torch.uint8).view(n, *shape).clone()
    y_all = torch.frombuffer(bytearray(raw[numel:]), dtype=torch.int64).clone()
    c = shape[0]
    mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor([s if s > 0 else 1.0 for s in spec["std"]], dtype=torch.float32).view(1, c, 1, 1)
    h = dict(spec["hyperparameters"])
    epochs = args.epochs or spec["epochs"]
    h["epochs"] = epochs
    batch = spec["batch_size"]

    if args.warmup_batches > 0:
        k = args.warmup_batches * batch
        torch.manual_seed(args.seed + 100)
        hw = dict(h, epochs=1)
        train(build(spec["graph"], spec["shapes"]), x_all[:k], y_all[:k], mean, std, hw, 1, batch, args.seed + 100)

    rates, loss, iterations = [], 0.0, 0
    for _ in range(args.repeats):
        torch.manual_seed(args.seed)
        net = build(spec["graph"], spec["shapes"])
        rate, loss, iterations = train(net, x_all, y_all, mean, std, h, epochs, batch, args.seed)
        rates.append(rate)
    params = sum(p.numel() for p in net.parameters())
    if params != spec["params"]:
        raise SystemExit(f"train_bench.py: the PyTorch network has {params} parameters, nasforge's {spec['params']}")
    return {"impl": args.label, "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""), "network": spec["network"],
            "genotype": spec["genotype"], "params": params, "epochs": epochs, "iterations": iterations,
            "batch_size": batch, "train_size": n, "threads": torch.get_num_threads(),
            "default_threads": default_threads, "torch_version": torch.__version__,
            "python": sys.version.split()[0], "train_loss": loss,
            "images_per_s_runs": rates, "images_per_s": statistics.median(rates)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train the network of a nasforge_train_bench JSON and print images/s")
    r.add_argument("--graph", required=True, help="nasforge_train_bench output (genotype, graph, shapes, ...)")
    r.add_argument("--data", required=True, help="its --dump-data file")
    r.add_argument("--epochs", type=int, default=0, help="timed epochs (default: the same as nasforge's run)")
    r.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: PyTorch's default)")
    r.add_argument("--repeats", type=int, default=1, help="timed runs in this process (the median is reported)")
    r.add_argument("--warmup-batches", type=int, default=4, help="batches of the untimed warm-up epoch (0: none)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--label", default="pytorch", help="name of this variant in the report")
    sub.add_parser("cpu", help="print this CPU's fp32 peak as JSON")
    args = parser.parse_args()
    out = run(args) if args.command == "run" else cpu_peak()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

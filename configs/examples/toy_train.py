#!/usr/bin/env python3
"""A stand-in for a training script: prints a learning curve the way nasforge's command objective reads it.

Replace the body with real training; keep the two print formats:
  intermediate: <epoch> <validation accuracy>   (streamed; nasforge may stop the process to prune it)
  objective: <final validation accuracy>
"""
import argparse
import json
import math
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--optimizer", choices=["sgd", "adam"], required=True)
parser.add_argument("--layers", type=int, required=True)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

params = json.loads(os.environ.get("NASFORGE_PARAMS_JSON", "{}"))
momentum = float(params.get("momentum", 0.0))
rng = random.Random(int(os.environ.get("TOY_SEED", "0")))

# A smooth response surface with its optimum near lr=0.01 (adam) / lr=0.1 with high momentum (sgd).
best_lr = 0.01 if args.optimizer == "adam" else 0.1 * (1.0 - 0.5 * momentum)
ceiling = 0.95 - 0.04 * abs(args.layers - 3) - 0.15 * abs(math.log10(args.lr / best_lr))
accuracy = 0.1
for epoch in range(1, args.epochs + 1):
    accuracy = 0.1 + (ceiling - 0.1) * (1.0 - math.exp(-epoch / 3.0)) + rng.gauss(0.0, 0.005)
    print(f"intermediate: {epoch} {accuracy:.5f}", flush=True)
print(f"attr: ceiling={ceiling:.4f}")
print(f"objective: {accuracy:.5f}")

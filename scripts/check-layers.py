#!/usr/bin/env python3
"""Fails when a source file includes a header from a folder above its own (docs/architecture.md, "Layers").

    python3 scripts/check-layers.py [--root DIR]   check the tree (default: this checkout)
    python3 scripts/check-layers.py --self-test    show that each rule catches a planted violation

Rules, over every `#include "..."` and `#include <torch/...>` line of the library folders:
  1. A file may include headers of its own folder entry (LAYERS below) and of entries on lower rows only.
     Folders on the same row are independent of each other. A folder not listed belongs to its nearest listed
     parent (evaluators/compression/ is part of evaluators/).
  2. Only files inside an nn/ folder include nn/ headers or libtorch, so that everything else builds without
     torch (the libtorch code is loaded on demand from libnasforge_nn.so).
  3. An included project header must exist.
bench/ and tests/ sit above every layer and are not checked.
"""
import argparse
import os
import re
import sys
import tempfile

# Lowest first; one row per rank. The order is the data flow of a study: values and config (core), what is
# searched (spaces), where trials are kept (storage), how a trial is scored (evaluators, whose leaf folders data/,
# process/ and cost/ include nothing else of their layer), how the next trial is chosen (strategies), and the
# study loop and the command line (search).
LAYERS = [
    ["core"],
    ["spaces"],
    ["storage"],
    ["evaluators/data", "evaluators/process", "evaluators/cost"],
    ["evaluators"],
    ["strategies"],
    ["search"],
]

INCLUDE = re.compile(r'^\s*#\s*include\s*(?:"([^"]+)"|<(torch/[^>]+)>)')
SOURCE = re.compile(r"\.(cc|h)$")


def entry_of(path):
    """The LAYERS entry a repository-relative path belongs to, and its rank; (None, None) outside the layers."""
    folder = os.path.dirname(path)
    best = (None, None)
    for rank, row in enumerate(LAYERS):
        for entry in row:
            if folder == entry or folder.startswith(entry + "/"):
                if best[0] is None or len(entry) > len(best[0]):
                    best = (entry, rank)
    return best


def in_nn(path):
    return "/nn/" in "/" + os.path.dirname(path) + "/"


def check(root):
    problems = []
    tops = sorted({row_entry.split("/")[0] for row in LAYERS for row_entry in row})
    for top in tops:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not SOURCE.search(name):
                    continue
                full = os.path.join(dirpath, name)
                path = os.path.relpath(full, root)
                entry, rank = entry_of(path)
                with open(full, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        where = f"{path}:{number}"
                        if m.group(2):
                            if not in_nn(path):
                                problems.append(f"{where}: includes <{m.group(2)}>, but only files in an nn/ folder "
                                                f"may use libtorch")
                            continue
                        header = m.group(1)
                        if not os.path.isfile(os.path.join(root, header)):
                            problems.append(f"{where}: includes \"{header}\", which does not exist (project headers "
                                            f"are named from the repository root)")
                            continue
                        if in_nn(header) and not in_nn(path):
                            problems.append(f"{where}: includes \"{header}\" from an nn/ folder, but {path} is "
                                            f"outside nn/ and must build without libtorch")
                        h_entry, h_rank = entry_of(header)
                        if h_entry is None or h_entry == entry:
                            continue
                        if h_rank > rank or (h_rank == rank and h_entry != entry):
                            problems.append(f"{where}: includes \"{header}\" from {h_entry}/, which is not below "
                                            f"{entry}/ (order: {order_text()})")
    return problems


def order_text():
    return " < ".join("{" + ", ".join(row) + "}" if len(row) > 1 else row[0] for row in LAYERS)


def self_test():
    """Plants one violation of each rule in a small tree and expects each to be reported (and a clean tree not)."""
    cases = {
        "upward": ("spaces/a.h", '#include "search/b.h"\n', "search/b.h"),
        "sideways": ("evaluators/data/a.h", '#include "evaluators/cost/b.h"\n', "evaluators/cost/b.h"),
        "leaf up": ("evaluators/cost/a.h", '#include "evaluators/b.h"\n', "evaluators/b.h"),
        "nn header": ("evaluators/a.cc", '#include "evaluators/nn/b.h"\n', "evaluators/nn/b.h"),
        "torch": ("strategies/a.cc", "#include <torch/torch.h>\n", None),
        "missing": ("core/a.cc", '#include "core/nothing.h"\n', None),
    }
    failed = []
    for label, (path, text, other) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            for p, t in ((path, text), (other, "#pragma once\n")):
                if p is None:
                    continue
                os.makedirs(os.path.join(root, os.path.dirname(p)), exist_ok=True)
                with open(os.path.join(root, p), "w") as f:
                    f.write(t)
            if not check(root):
                failed.append(label)
    with tempfile.TemporaryDirectory() as root:
        for p, t in (("search/a.cc", '#include "core/b.h"\n#include "search/nn/c.h"\n'), ("core/b.h", ""),
                     ("search/nn/c.h", ""), ("search/nn/d.cc", '#include <torch/torch.h>\n#include "search/nn/c.h"\n'),
                     ("evaluators/compression/e.h", '#include "evaluators/cost/b.h"\n'), ("evaluators/cost/b.h", "")):
            os.makedirs(os.path.join(root, os.path.dirname(p)), exist_ok=True)
            with open(os.path.join(root, p), "w") as f:
                f.write(t)
        clean = check(root)
        # search/a.cc including search/nn/c.h is the one planted problem of this tree.
        if len(clean) != 1 or "search/nn/c.h" not in clean[0]:
            failed.append("clean tree: " + "; ".join(clean))
    if failed:
        print("check-layers self-test: these planted violations were not reported as expected: " + ", ".join(failed))
        return 1
    print(f"check-layers self-test: all {len(cases) + 1} cases reported as expected")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    problems = check(os.path.abspath(args.root))
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} include(s) break the layer rules (docs/architecture.md, Layers)")
        return 1
    print(f"check-layers: every include follows the layer order {order_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""NAS-Bench-201 table lookup shared by the Optuna harness and the report (standard library only)."""

import csv
import gzip

NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
NB201_EDGES = ["edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"]


def load_nb201(path):
    """arch string -> list of per-seed validation accuracies (columns seed*; empty cells skipped)."""
    table = {}
    with gzip.open(path, "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        arch_col = header.index("arch")
        seed_cols = [i for i, h in enumerate(header) if h.startswith("seed")]
        for row in reader:
            values = [float(row[i]) for i in seed_cols if i < len(row) and row[i].strip() != ""]
            if values:
                table[row[arch_col]] = values
    return table


def nb201_arch(ops):
    """The table's arch string for the ops of edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2."""
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)

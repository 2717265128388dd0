"""NAS-Bench-201 and HPOLib table lookup shared by the Optuna harness and the report (standard library only)."""

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


# HPOLib / fcnet: 9 categorical hyperparameters (name, values as the table writes them).
HPOLIB_SPACE = [
    ("activation_fn_1", ["relu", "tanh"]),
    ("activation_fn_2", ["relu", "tanh"]),
    ("batch_size", [8, 16, 32, 64]),
    ("dropout_1", [0.0, 0.3, 0.6]),
    ("dropout_2", [0.0, 0.3, 0.6]),
    ("init_lr", [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1]),
    ("lr_schedule", ["cosine", "const"]),
    ("n_units_1", [16, 32, 64, 128, 256, 512]),
    ("n_units_2", [16, 32, 64, 128, 256, 512]),
]


def _cell(value):
    """Canonical text of a key cell or parameter value: 0.0005 == 5e-4, 16 == 16.0."""
    try:
        return repr(float(value))
    except ValueError:
        return str(value)


def hpolib_key(params):
    """The lookup key of an HPOLib configuration (a dict name -> value)."""
    return tuple(_cell(params[name]) for name, _ in HPOLIB_SPACE)


def load_hpolib(path):
    """hpolib_key -> list of per-seed validation MSEs (columns seed*)."""
    table = {}
    with gzip.open(path, "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        key_cols = [header.index(name) for name, _ in HPOLIB_SPACE]
        seed_cols = [i for i, h in enumerate(header) if h.startswith("seed")]
        for row in reader:
            values = [float(row[i]) for i in seed_cols if i < len(row) and row[i].strip() != ""]
            if values:
                table[tuple(_cell(row[i]) for i in key_cols)] = values
    return table

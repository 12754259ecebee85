"""Compare two run folders' tables: the sha256 of each file and ``pandas`` ``equals``.

Shows that a change left a run's outputs as they were (same spec, same seed), as in
``results_refactor_identity.md``::

    python benchmarks/compare_runs_identity.py BEFORE_RUN_FOLDER AFTER_RUN_FOLDER
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

COMPARED = ("manifest.parquet", "faces.parquet", "scores.parquet", "metrics.parquet",
            "summary.json", "policy.json", "notes.json")


def main(before: Path, after: Path) -> None:
    for name in COMPARED:
        a, b = before / name, after / name
        digest_a = hashlib.sha256(a.read_bytes()).hexdigest()
        digest_b = hashlib.sha256(b.read_bytes()).hexdigest()
        if name.endswith(".parquet"):
            equal = pd.read_parquet(a).equals(pd.read_parquet(b))
        else:
            equal = a.read_text() == b.read_text()
        print(f"{name:17} {digest_a[:16]} {digest_b[:16]} "
              f"bytes_same={digest_a == digest_b} equals={equal}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

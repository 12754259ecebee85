"""``lfr-audit compare`` of two score logs' metrics tables: a vendor's export audited again.

Two exports of the same people, the later with different scores, each through
``metrics``; compare matches their rows as it matches two runs' and names what
changed in the set-up from the records ``metrics`` wrote (the export's SHA-256)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_USAGE, app

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")


def _export(folder, seed: int, shift: float, *options: str) -> str:
    """A 1:1 log of 200 people (a mated and two non-mated comparisons each) and their sex;
    ``shift`` raises the non-mated scores (more false matches). Returns its table's path."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(200):
        rows.append(("verification", f"P{i}", f"P{i}", rng.uniform(0.4, 1), "true"))
        for j in (1, 2):
            other = f"P{(i + j) % 200}"
            rows.append(("verification", f"P{i}", other, rng.uniform(0, 0.6) + shift, "false"))
    pd.DataFrame(rows, columns=["trial_kind", "probe_subject", "reference_subject", "score",
                                "mated"]).to_csv(folder / "log.csv", index=False)
    pd.DataFrame({"subject_id": [f"P{i}" for i in range(200)],
                  "sex": ["female" if i % 2 else "male" for i in range(200)]}).to_csv(
        folder / "people.csv", index=False)
    table = folder / "metrics.parquet"
    result = runner.invoke(app, ["metrics", str(folder / "log.csv"), "--attributes",
                                 str(folder / "people.csv"), "--threshold", "0.5",
                                 "--grouping", "sex", "--out", str(table), *options])
    assert result.exit_code in (0, 3), result.output
    return str(table)


def test_two_exports_are_compared_rate_by_rate_with_what_changed(tmp_path):
    before, after = _export(tmp_path / "june", 1, 0.0), _export(tmp_path / "july", 2, 0.08)
    result = runner.invoke(app, ["compare", before, after])
    assert result.exit_code == 0, result.output
    assert "compared with the earlier run june/metrics.parquet (written " in result.output
    assert "changed inputs.trials.sha256:" in result.output
    written = json.loads((tmp_path / "july" / "compare.json").read_text())
    fmr = next(r for r in written["rate_changes"] if r["metric"] == "fmr"
               and r["grouping"] == "overall")
    tables = [pd.read_parquet(p) for p in (before, after)]
    b, a = (t[(t["metric"] == "fmr") & (t["grouping"] == "overall")
              & (t["statistic"] == "rate")].iloc[0] for t in tables)
    assert fmr["change"] == pytest.approx(a["value"] - b["value"], rel=1e-12)
    # MOVER from the two tables' own intervals (Zou & Donner 2008), by hand:
    low = a["value"] - b["value"] - np.hypot(a["value"] - a["ci_low"], b["ci_high"] - b["value"])
    high = a["value"] - b["value"] + np.hypot(a["ci_high"] - a["value"], b["value"] - b["ci_low"])
    assert (fmr["low"], fmr["high"]) == pytest.approx((low, high), rel=1e-12)
    assert fmr["significant"]
    assert (tmp_path / "july" / "changes.html").is_file()


def test_a_run_folder_and_a_table_are_refused_in_one_line(tmp_path):
    table = _export(tmp_path / "june", 1, 0.0)
    result = runner.invoke(app, ["compare", str(tmp_path / "june"), table])
    assert result.exit_code == EXIT_USAGE
    assert "give two run folders, or two score logs' metrics tables" in result.output
    (tmp_path / "notes.txt").write_text("hello")
    result = runner.invoke(app, ["compare", table, str(tmp_path / "notes.txt")])
    assert result.exit_code == EXIT_USAGE
    assert "notes.txt: not a metrics table" in result.output


def test_the_symmetric_cross_group_matrix_is_compared_once_per_pair_of_groups(tmp_path):
    """Cells (female, male) and (male, female) of the cross-group FMR matrix hold one figure
    (a comparison counts in the unordered pair of its people's groups): compared once,
    named "female with male", not twice as "female -> male" and "male -> female"."""
    before, after = _export(tmp_path / "june", 1, 0.0), _export(tmp_path / "july", 2, 0.08)
    table = pd.read_parquet(after)
    cells = table[table["metric"] == "fmr_cross"]
    assert len(cells) == 4  # the table keeps the whole matrix, both mirrors
    result = runner.invoke(app, ["compare", before, after])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "july" / "compare.json").read_text())
    compared = [(r["group"], r["group_b"]) for r in written["rate_changes"]
                if r["metric"] == "fmr_cross"]
    assert sorted(compared) == [("female", "female"), ("female", "male"), ("male", "male")]
    assert " -> male (sex)" not in result.output and "male -> female" not in result.output
    assert "female with male (sex)" in result.output


def test_the_later_tables_policy_decides_the_exit_code(tmp_path):
    """As for runs: 3 when the later table broke a limit its record holds."""
    about = tmp_path / "about.toml"
    about.write_text("[policy]\nmax_fnmr = 0.01\n")
    before = _export(tmp_path / "june", 1, 0.0, "--about", str(about))
    after = _export(tmp_path / "july", 2, 0.08, "--about", str(about))
    result = runner.invoke(app, ["compare", before, after])
    assert result.exit_code == 3, result.output
    assert "policy: max_fnmr = 0.01 broken (estimate): FNMR overall" in result.output


def test_what_is_not_a_metrics_table_is_one_line_and_a_missing_record_is_said(tmp_path):
    table = _export(tmp_path / "june", 1, 0.0)
    (tmp_path / "bad.parquet").write_text("hello")  # not Parquet at all
    trials = tmp_path / "log.parquet"  # a score log, not a table of rates
    pd.read_csv(tmp_path / "june" / "log.csv").to_parquet(trials)
    for other in (tmp_path / "bad.parquet", trials):
        result = runner.invoke(app, ["compare", str(other), table])
        assert result.exit_code == EXIT_USAGE, result.output
        assert f"{other.name}: not a metrics table" in result.output
        assert "older lfr-audit" not in result.output
    bare = tmp_path / "bare" / "metrics.parquet"
    bare.parent.mkdir()
    bare.write_bytes((tmp_path / "june" / "metrics.parquet").read_bytes())  # no record
    result = runner.invoke(app, ["compare", str(bare), table])
    assert result.exit_code == 0, result.output
    assert "has no metrics.about.json beside it" in " ".join(result.output.split())

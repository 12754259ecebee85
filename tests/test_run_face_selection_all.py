"""`lfr-audit run` with face_selection = "all": crowd frames beside single-face captures.

Two frames hold two LFW faces side by side and are labelled as the person on
the left, who also has single-face images. Every face of a frame must be
searched as a person not on the watchlist, in the ``unknown`` group, and
never take part in a mated trial (the labels do not say which face is the
person).
"""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.runs.layout import FACES_FILE, METRICS_FILE, SCORES_FILE, list_runs

pytestmark = pytest.mark.integration

SPEC = """
name = "crowd frames"
[dataset]
name = "captures.csv"
root = "{root}"
[pipeline]
face_selection = "all"
[matching]
mated_per_subject = 3
nonmated_per_cell = 500
[watchlist]
size = 4
draws = 2
[thresholds]
deepface_default = false
target_fmr = [0.05]
target_fpir = [0.2]
[groupings]
sensitive = ["gender"]
conditions = []
[report]
formats = ["html"]
"""


def test_every_face_of_a_frame_is_a_non_mated_probe(tmp_path, lfw_root, lfw_rows, monkeypatch,
                                                    weights_home):
    monkeypatch.setenv("LFR_AUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LFR_AUDIT_RUNS", str(tmp_path / "runs"))
    good = lfw_rows(8, 2)
    root = tmp_path / "data"
    for row in good:
        (root / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lfw_root / row["path"], root / row["path"])
    lines = ["path,subject_id,gender"] + [
        f"{row['path']},{row['subject_id']},{'fm'[i % 2]}" for i, row in enumerate(good)]
    (root / "frames").mkdir()
    for k in range(2):
        left, right = good[2 * k], good[2 * k + 5]
        frame = np.hstack([cv2.imread(str(lfw_root / r["path"])) for r in (left, right)])
        cv2.imwrite(str(root / "frames" / f"frame{k}.png"), frame)
        lines.append(f"frames/frame{k}.png,{left['subject_id']},f")
    (tmp_path / "captures.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "audit.toml").write_text(SPEC.format(root=root))

    result = CliRunner().invoke(app, ["run", str(tmp_path / "audit.toml")])
    assert result.exit_code == 0, result.output
    (run,) = list_runs(tmp_path / "runs")
    faces = pq.read_table(run / FACES_FILE)
    frames = faces.filter(pc.match_substring(faces.column("image_id"), "frame"))
    assert frames.num_rows >= 4 and set(frames.column("n_faces").to_pylist()) == {2}

    scores = pq.read_table(run / SCORES_FILE).to_pandas()
    from_frames = scores["probe_id"].str.contains("#") | scores["reference_id"].str.contains(
        "#", na=False)
    assert from_frames.any()
    assert not scores.loc[from_frames, "mated"].any()  # never in a mated trial
    for kind in ("verification", "identification"):
        assert (scores.loc[from_frames, "trial_kind"] == kind).any()
    metrics = pq.read_table(run / METRICS_FILE).to_pandas()
    assert "unknown" in set(metrics.loc[metrics["grouping"] == "gender", "group"])
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "every face, each its own probe" in html
    again = CliRunner().invoke(app, ["metrics", str(run), "--threshold", "0.9", "--grouping",
                                     "gender", "--out", str(tmp_path / "m.parquet")])
    assert again.exit_code == 0, again.output  # the run folder's probes are found again

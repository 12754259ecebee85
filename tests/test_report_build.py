"""Reports from run folders, as ``lfr-audit run`` and ``compare`` write them."""

from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_report_render import small_metrics

from audit.datasets.cards import described
from audit.runs.report import render_changes, render_run, run_info_from_folder


def _png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (90, 90, 90)).save(path)


def make_run(folder, root, *, run_id, metrics, fpir_scale=1.0, threshold_reason=None):
    folder.mkdir(parents=True)
    frame = metrics.to_pandas()
    frame.loc[(frame["metric"] == "fpir") & (frame["statistic"] == "rate"), "value"] *= fpir_scale
    pq.write_table(pa.Table.from_pandas(frame, schema=metrics.schema, preserve_index=False), folder / "metrics.parquet")
    manifest = pd.DataFrame(
        {
            "image_id": [f"i{k}" for k in range(8)],
            "path": [f"{g}/{k}.png" for k, g in enumerate(["female", "male"] * 4)],
            "subject_id": [f"s{k // 2}" for k in range(8)],
            "dataset": "lfw",
            "gender": ["female", "male"] * 4,
        }
    )
    for p in manifest["path"]:
        _png(root / p)
    pq.write_table(pa.Table.from_pandas(manifest, preserve_index=False), folder / "manifest.parquet")
    spec = {
        "name": "demo", "seed": 3, "dataset": {"name": "lfw", "root": None},
        "pipeline": {"model": "Dlib", "detector": "dlib", "align": True, "preprocess": "deepface", "normalization": "base"},
        "matching": {"distance": "cosine"}, "watchlist": {"size": 1000, "draws": 5},
        "thresholds": {"deployment": [0.6], "target_fmr": [0.001]},
        "groupings": {"sensitive": ["gender"], "conditions": []},
        "statistics": {"bootstrap": 1000, "confidence": 0.95, "min_subjects": 20, "min_trials": 100},
        "projection": {"crowd": 100000, "watchlist": 10000, "share_on_watchlist": 0.0001},
        "report": {"formats": ["html"], "include_faces": False, "title": "Demo audit"},
    }
    provenance = {
        "run_id": run_id, "created_utc": "2024-06-01T10:00:00+00:00", "spec": spec,
        "dataset": {"name": "lfw", "root": str(root), "supports_mated": True, "label_provenance": "perceived",
                    "fingerprint": "sha256:abc", "quirks": {"conflicting": 3}, "notes": ["3 images listed as both male and female"],
                    **described("lfw")},
        "n_images": 8,
        "thresholds": {"0.6": threshold_reason or {"source": "spec", "how": "given in the audit spec"}},
        "versions": {"lfr-audit": "0.1.0", "deepface": "0.0.103"}, "weights": {"model.dat": "sha256:1"},
        "seed": 3, "timings_s": {"metrics": 1.5},
    }
    (folder / "provenance.json").write_text(json.dumps(provenance))
    (folder / "policy.json").write_text(json.dumps({
        "limits": {"max_fpir_ratio": 1.5}, "passed": False,
        "violations": [{"limit": "max_fpir_ratio", "allowed": 1.5, "observed": 2.1, "where": "gender at 0.6",
                        "sentence": "max_fpir_ratio = 1.5 broken: 2.1 for gender at 0.6"}]}))
    (folder / "summary.json").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    metrics = small_metrics()
    root = base / "data"
    before = make_run(base / "r1", root, run_id="r1", metrics=metrics)
    after = make_run(base / "r2", root, run_id="r2", metrics=metrics, fpir_scale=3.0,
                     threshold_reason={"source": "deepface-default",
                                       "how": "deepface's default for Dlib with cosine distance"})
    return before, after


def test_run_info_from_folder(runs):
    _, after = runs
    run = run_info_from_folder(after)
    assert run.run_id == "r2" and run.title == "Demo audit" and run.watchlist.size == 1000
    assert run.system.thresholds[0].source == "deepface-default"
    data = run.datasets[0]
    assert data.label_source == "perceived" and data.subjects == 4 and data.images == 8
    assert {(c.group, c.subjects, c.images) for c in data.composition} == {("female", 4, 4), ("male", 4, 4)}
    assert data.quirks == {"conflicting": 3} and run.policy["passed"] is False
    assert "news photographs" in data.description and "Huang" in data.citation
    assert "no licence stated" in data.licence and "AFIF4" in data.label_origin
    assert "root" not in run.provenance["dataset"]  # a local path, never in a report
    assert run.face_images == ()
    faces = run_info_from_folder(after, include_faces=True).face_images
    assert [f.caption for f in faces] == ["female", "male"]


def test_render_run_with_previous(runs):
    before, after = runs
    written = render_run(after, formats=("html",), previous=before)
    assert set(written) == {"html", "short_html"} and written["html"] == after / "report.html"
    html = written["html"].read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "5.8 Changes since the previous run" in text
    assert "Agreed limits broken:" in text and "max_fpir_ratio allows 1.5, observed 2.1" in text
    assert "conflicting 3" in text and "3 images listed as both male and female" in text
    assert "significant change" in text  # FPIR tripled
    assert "<img" not in html


def test_render_changes(runs, tmp_path):
    from audit.runs.compare import compare_runs

    before, after = runs
    written = render_changes(compare_runs(before, after), tmp_path, formats=("html",))
    html = written["html"].read_text(encoding="utf-8")
    assert "Changes between audit runs" in html and "significant change" in html
    assert "thresholds" in html or "weights" in html or "No change" in html


def test_render_run_needs_metrics(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.parquet"):
        render_run(tmp_path)


def test_dataset_described_from_its_card_or_the_spec():
    from audit.config import AuditSpec
    from audit.runs.workflow import _described

    builtin = _described(AuditSpec(dataset={"name": "utkface"}))
    assert "no identity labels" in builtin["description"] and "non-commercial" in builtin["licence"]
    custom = _described(AuditSpec(dataset={
        "name": "captures.csv", "description": "Entrance camera, 2025.", "citation": "Our own",
        "licence": "internal", "label_provenance": "self-reported", "label_origin": "asked"}))
    assert custom == {"description": "Entrance camera, 2025.", "citation": "Our own",
                      "licence": "internal", "label_origin": "asked"}
    assert _described(AuditSpec(dataset={"name": "captures.csv"})) == dict.fromkeys(custom, "")

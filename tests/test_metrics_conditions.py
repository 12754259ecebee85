"""Condition bands: cut points, tie rule, unknown where nothing was measured."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from audit.metrics.conditions import band, failures_to_acquire, images_with_conditions
from audit.pipeline.embed import empty_row
from audit.schema import FACES


def test_band_edges_go_to_the_band_above_and_nan_is_unknown():
    values = np.array([10, 60, 119.9, 120, np.nan])
    assert band(values, [60, 120], "px").tolist() == [
        "<60 px",
        "60-120 px",
        "60-120 px",
        ">=120 px",
        "unknown",
    ]


def test_images_get_band_columns_from_faces():
    manifest = pa.table(
        {
            "image_id": ["a", "b"],
            "path": ["a.jpg", "b.jpg"],
            "subject_id": ["s", "t"],
            "dataset": ["d", "d"],
        }
    )
    ok = empty_row("a", "h", "k", "ok")
    ok.update(face_height_px=80, brightness=50.0, sharpness=300.0, yaw_deg=-20.0, embedding=[1.0])
    faces = pa.Table.from_pylist([ok, empty_row("b", "h2", "k", "no_face")], schema=FACES)
    images = images_with_conditions(
        manifest,
        faces,
        {
            "face_height_px": [60, 120],
            "brightness": [70, 180],
            "sharpness": [50, 200],
            "yaw_deg": [15, 30],
        },
    )
    first, second = images.iloc[0], images.iloc[1]
    assert (
        first.face_height_band,
        first.brightness_band,
        first.sharpness_band,
        first.yaw_band,
    ) == ("60-120 px", "<70", ">=200", "15-30 deg")
    assert second.face_height_band == "unknown" and second.yaw_band == "unknown"
    assert failures_to_acquire(faces).fta.tolist() == [False, True]

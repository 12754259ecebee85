"""Capture-condition bands from the pipeline's measured quality features.

Public datasets rarely label capture conditions, but the faces table measures
them on every face. Binning each feature at readable cut points turns it into
a grouping like any demographic column (``face_height_band = "60-120 px"``),
so conditions get the same rates, intervals and sufficiency rules. Images with
no usable face have no measurement: their band is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.schema import FACES, MANIFEST, UNKNOWN, coerce_table

#: Feature measured by the pipeline -> (band column, unit shown in labels).
FEATURES = {
    "face_height_px": ("face_height_band", "px"),
    "brightness": ("brightness_band", ""),
    "sharpness": ("sharpness_band", ""),
    "yaw_deg": ("yaw_band", "deg"),
}


def band_labels(cuts: Sequence[float], unit: str) -> list[str]:
    """Labels of the bands that ``cuts`` define: '<a', 'a-b', ..., '>=z' (with unit).

    >>> band_labels([60, 120], "px")
    ['<60 px', '60-120 px', '>=120 px']
    """
    suffix = f" {unit}" if unit else ""
    text = [f"{c:g}" for c in cuts]
    middle = [f"{a}-{b}{suffix}" for a, b in zip(text, text[1:])]
    return [f"<{text[0]}{suffix}", *middle, f">={text[-1]}{suffix}"]


def band(values: np.ndarray, cuts: Sequence[float], unit: str) -> np.ndarray:
    """Band label of each value; NaN values are ``unknown``. A value equal to a cut
    point falls in the band above it (``60`` is in ``60-120``)."""
    labels = np.array(band_labels(cuts, unit), dtype=object)
    values = np.asarray(values, dtype=np.float64)
    out = labels[np.searchsorted(np.asarray(cuts, dtype=np.float64), values, side="right")]
    out[np.isnan(values)] = UNKNOWN
    return out


def images_with_conditions(manifest: pa.Table, faces: pa.Table,
                           cuts: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """The manifest's rows with one band column per feature in ``cuts``.

    Yaw is banded on its absolute value (turned left or right alike).
    """
    images = coerce_table(manifest, MANIFEST, "manifest").to_pandas()
    measured = coerce_table(faces, FACES, "faces").to_pandas().set_index("image_id")
    measured = measured.reindex(images["image_id"])
    for feature, feature_cuts in cuts.items():
        column, unit = FEATURES[feature]
        values = measured[feature].to_numpy(dtype=np.float64, na_value=np.nan)
        if feature == "yaw_deg":
            values = np.abs(values)
        images[column] = band(values, feature_cuts, unit)
    return images


def failures_to_acquire(faces: pa.Table) -> pd.DataFrame:
    """Per-image FTA flags (``image_id``, ``fta``): any status but ``ok``."""
    frame = coerce_table(faces, FACES, "faces").to_pandas()
    return pd.DataFrame({"image_id": frame["image_id"], "fta": frame["status"] != "ok"})

"""The pipeline configuration under audit, and the cache key derived from it.

Preprocessing is part of what is audited: the same model gives different
error rates with deepface's crop and with dlib's own 5-point chip, and
deepface's 50% black border changes which faces are found. So every choice
that can change an embedding is a field here, recorded in the run, and part of
the cache key together with the versions of the code that computes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from audit.choices import FaceSelection, Preprocess
from audit.tables import package_versions

#: Bump when lfr-audit's own detection/embedding code changes its output.
PIPELINE_VERSION = "2"  # 2: decoding by content, every face's box, RGB detection for dlib-chip
#: Seconds one image may take (read, decode, detect, embed) before its row is
#: ``timeout``. Far above any real image: with deepface's border the dlib detector
#: takes about 91 ms on a 250 x 250 LFW image (DESIGN.md), so, its cost being
#: linear in pixels, about a minute at the decoder's 40-megapixel limit.
DEFAULT_IMAGE_TIMEOUT = 300.0


@dataclass(frozen=True)
class PipelineConfig:
    """Detection + embedding settings; every field can change an embedding."""

    model: str = "Dlib"
    detector: str = "dlib"
    align: bool = True
    preprocess: Preprocess = Preprocess.deepface
    normalization: str = "base"
    face_selection: FaceSelection = FaceSelection.centre
    #: A guard, not a choice under audit: it never changes an ``ok`` row, so it is
    #: left out of :meth:`as_dict` and of the cache key.
    image_timeout: float | None = field(default=DEFAULT_IMAGE_TIMEOUT, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "preprocess", Preprocess(self.preprocess))
        object.__setattr__(self, "face_selection", FaceSelection(self.face_selection))
        if self.preprocess is Preprocess.dlib_chip and self.model != "Dlib":
            raise ValueError(
                f"preprocess 'dlib-chip' is dlib's recipe for the Dlib model, not {self.model!r}; "
                "use 'deepface' or 'no-border'"
            )
        if self.detector == "skip" and self.preprocess is Preprocess.dlib_chip:
            raise ValueError("preprocess 'dlib-chip' needs a detector, not 'skip'")

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        del data["image_timeout"]
        data["preprocess"] = self.preprocess.value
        data["face_selection"] = self.face_selection.value
        return data

    def describe(self) -> str:
        return (
            f"{self.model} + {self.detector} detector, align={self.align}, "
            f"preprocess={self.preprocess.value}, normalization={self.normalization}, "
            f"face selection={self.face_selection.value}"
        )


def software_versions() -> dict[str, str]:
    """Versions of everything that can change a faces row."""
    names = ("deepface", "dlib-bin", "opencv-contrib-python-headless", "numpy", "tensorflow")
    return {"lfr-audit-pipeline": PIPELINE_VERSION, **package_versions(names)}


def config_key(config: PipelineConfig) -> str:
    """Short stable hash of the configuration and software versions.

    Faces rows are cached under (image content hash, this key): a new model,
    detector, preprocessing or library version never reuses old embeddings.
    """
    blob = json.dumps(
        {"config": config.as_dict(), "versions": software_versions()}, sort_keys=True
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]

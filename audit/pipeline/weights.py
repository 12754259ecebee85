"""Which deepface models and detectors can run here, and why not.

deepface downloads weights the first time a model is built, over the network,
with no checksum, into ``$DEEPFACE_HOME/.deepface/weights`` (``DEEPFACE_HOME``
defaults to the user's home folder). On a machine without network that call
hangs or fails deep inside a run. lfr-audit therefore checks, before any work,
that every file and package the chosen configuration needs is present, and
names what is missing and where it goes.

The Dlib recognition model and the dlib detector's landmark file ship in the
PyPI package ``face-recognition-models``; :func:`seed_dlib_weights` copies them
into deepface's folder so the default configuration runs offline.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from audit.choices import DETECTORS, RECOGNITION_MODELS, Requirement
from audit.tables import atomic_path


#: Files lfr-audit copies from the face-recognition-models package.
SEEDED_FILES = ("dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat")

_UNKNOWN_MODEL = "unknown recognition model {name!r}; choose one of: {choices}"
_UNKNOWN_DETECTOR = "unknown detector {name!r}; choose one of: {choices}"


class WeightsError(RuntimeError):
    """A chosen model or detector cannot run here; the message says how to fix it."""


def deepface_home() -> Path:
    """The folder deepface treats as home: ``$DEEPFACE_HOME`` or the user's home."""
    return Path(os.environ.get("DEEPFACE_HOME") or Path.home())


def weights_dir() -> Path:
    """Where deepface looks for weight files (``<home>/.deepface/weights``)."""
    return deepface_home() / ".deepface" / "weights"


@dataclass(frozen=True)
class Availability:
    """Whether one model or detector can run, and what it lacks if not."""

    kind: str  # "recognition" or "detector"
    requirement: Requirement
    missing_files: tuple[str, ...]
    missing_packages: tuple[str, ...]

    @property
    def runnable(self) -> bool:
        return not (self.missing_files or self.missing_packages)

    def explain(self) -> str:
        """One line saying what is missing and where it must go."""
        req = self.requirement
        parts = []
        if self.missing_files:
            files = ", ".join(self.missing_files)
            parts.append(
                f"{self.kind} {req.name!r} needs {files} in {weights_dir()} "
                f"(get it from {req.source}; set DEEPFACE_HOME to use another folder)"
            )
        if self.missing_packages:
            parts.append(
                f"{self.kind} {req.name!r} needs Python package(s) "
                f"{', '.join(self.missing_packages)}" + (f" ({req.note})" if req.note else "")
            )
        return "; ".join(parts)


def _package_present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def availability(kind: str, requirement: Requirement) -> Availability:
    """Check files and packages without importing anything heavy."""
    folder = weights_dir()
    return Availability(
        kind=kind,
        requirement=requirement,
        missing_files=tuple(f for f in requirement.files if not (folder / f).is_file()),
        missing_packages=tuple(p for p in requirement.packages if not _package_present(p)),
    )


def list_availability() -> list[Availability]:
    """Every recognition model and detector deepface offers, with its status here."""
    return [availability("recognition", r) for r in RECOGNITION_MODELS.values()] + [
        availability("detector", r) for r in DETECTORS.values()
    ]


def require(model: str, detector: str, *, needs_landmarks: bool = False) -> None:
    """Stop before any work unless ``model`` and ``detector`` can run here.

    Seeds the Dlib files first (a local copy, no network), then raises
    :class:`WeightsError` naming every missing file, its folder and its source.
    ``needs_landmarks`` adds dlib's 5-point landmark file (used for the
    ``dlib-chip`` preprocessing and the yaw estimate).
    """
    if model not in RECOGNITION_MODELS:
        raise WeightsError(_UNKNOWN_MODEL.format(name=model, choices=", ".join(RECOGNITION_MODELS)))
    if detector not in DETECTORS:
        raise WeightsError(_UNKNOWN_DETECTOR.format(name=detector, choices=", ".join(DETECTORS)))
    seed_dlib_weights()
    checks = [
        availability("recognition model", RECOGNITION_MODELS[model]),
        availability("detector", DETECTORS[detector]),
    ]
    if needs_landmarks:
        checks.append(availability("landmark model", DETECTORS["dlib"]))
    problems = [c.explain() for c in checks if not c.runnable]
    if problems:
        raise WeightsError("; ".join(problems))


def seed_dlib_weights() -> list[Path]:
    """Copy the Dlib files from ``face-recognition-models`` into deepface's folder.

    Idempotent; copies through a temporary file and renames, so an interrupted
    copy never leaves a truncated weight file that deepface would trust.
    Returns the files written (empty if all were present or the package is absent).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        return []
    source_dir = Path(spec.origin).parent / "models"
    target_dir = weights_dir()
    written = []
    for name in SEEDED_FILES:
        target = target_dir / name
        source = source_dir / name
        if target.is_file() or not source.is_file():
            continue
        with atomic_path(target) as partial:
            shutil.copyfile(source, partial)
        written.append(target)
    return written


def file_sha256(path: Path) -> str:
    """SHA-256 of a weight file, recorded in provenance."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

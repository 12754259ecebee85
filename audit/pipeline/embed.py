"""The unit of work: a batch of images -> faces rows, for one configuration.

:class:`FaceEmbedder` loads the detector and model once per process and turns
a batch of (image_id, content_hash, absolute path) into faces rows (one dict
per image, keys of :data:`audit.schema.FACES`). It is a pure function of the
images and the configuration, so any worker can run any batch.

A failure on one image is a row with a status, never an exception that stops
the run: ``unreadable`` (the bytes do not decode as an image), ``no_face``
(deepface's ``FaceNotDetected``), ``error`` (anything else raised for that
image, with its message). ``missing`` rows are made before any work, by the
caller, for files that do not exist.

deepface is imported here, lazily, and only its modules (never
``deepface.DeepFace``, which silences warnings process-wide and creates
folders at import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .config import PipelineConfig, Preprocess
from .quality import measure
from .weights import weights_dir

#: dlib's recipe for its ResNet: a 150 px chip with 25% padding around 5 landmarks.
DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25


@dataclass(frozen=True)
class ImageTask:
    image_id: str
    content_hash: str
    path: str  # absolute path or fsspec URL, already checked to lie inside the dataset root


def is_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` is an fsspec URL (``file://``, ``s3://``...) rather than a path."""
    return isinstance(location, str) and "://" in location


def read_bytes(location: str | os.PathLike) -> bytes:
    """The bytes of a local file or of an fsspec URL (``s3://`` needs s3fs installed).

    Raises ``FileNotFoundError`` when there is no such file, as for a local path.
    """
    if is_url(location):
        import fsspec

        with fsspec.open(location, "rb") as handle:
            return handle.read()
    return Path(location).read_bytes()


def _quiet_deepface() -> None:
    """deepface's logger prints INFO lines to stdout; keep the CLI's output clean."""
    os.environ.setdefault("DEEPFACE_LOG_LEVEL", "40")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def empty_row(image_id: str, content_hash: str | None, key: str, status: str,
              message: str | None = None) -> dict:
    """A faces row for an image that yielded no face (any status but ``ok``)."""
    return {
        "image_id": image_id, "content_hash": content_hash, "config_key": key,
        "status": status, "message": message, "n_faces": 0 if status == "no_face" else None,
        "box_x": None, "box_y": None, "box_w": None, "box_h": None, "confidence": None,
        "face_height_px": None, "brightness": None, "contrast": None, "sharpness": None,
        "yaw_deg": None, "embedding": None,
    }


class FaceEmbedder:
    """Detector, landmark model and recognition model, built once per process."""

    def __init__(self, config: PipelineConfig, key: str) -> None:
        _quiet_deepface()
        import dlib
        from deepface.modules import detection, modeling, preprocessing
        from deepface.modules.exceptions import FaceNotDetected

        self.config = config
        self.key = key
        self._dlib = dlib
        self._detection = detection
        self._preprocessing = preprocessing
        self._face_not_detected = FaceNotDetected
        self._model = modeling.build_model(task="facial_recognition", model_name=config.model)
        self._detector = (
            None if config.detector == "skip"
            else modeling.build_model(task="face_detector", model_name=config.detector)
        )
        self._landmarks = dlib.shape_predictor(
            str(weights_dir() / "shape_predictor_5_face_landmarks.dat")
        )

    # -- detection ---------------------------------------------------------
    def _faces(self, image: np.ndarray) -> list:
        """All faces deepface finds, as ``DetectedFace`` (crop in BGR, box in image coords)."""
        config = self.config
        if config.detector == "skip":
            height, width = image.shape[:2]
            region = self._detection.FacialAreaRegion(x=0, y=0, w=width, h=height, confidence=0)
            return [self._detection.DetectedFace(img=image, facial_area=region, confidence=0)]
        if config.preprocess is Preprocess.deepface:
            return self._detection.detect_faces(
                detector_backend=config.detector, img=image, align=config.align
            )
        return [
            self._detection.extract_face(
                facial_area=area, img=image, align=config.align, expand_percentage=0,
                width_border=0, height_border=0, detector_backend=config.detector,
            )
            for area in self._detector.detect_faces(image)
        ]

    def _model_input(self, image: np.ndarray, face, landmarks) -> np.ndarray:
        """The array the recognition model sees for one face (batch of 1)."""
        if self.config.preprocess is Preprocess.dlib_chip:
            rgb = np.ascontiguousarray(image[:, :, ::-1])
            chip = self._dlib.get_face_chip(rgb, landmarks, size=DLIB_CHIP_SIZE,
                                            padding=DLIB_CHIP_PADDING)
            return chip[np.newaxis]
        crop = face.img / 255.0  # as extract_faces(normalize_face=True) hands it on
        target = self._model.input_shape
        resized = self._preprocessing.resize_image(crop, (target[1], target[0]))
        return self._preprocessing.normalize_input(resized, normalization=self.config.normalization)

    def _embed(self, inputs: list[np.ndarray]) -> np.ndarray:
        if self.config.preprocess is Preprocess.dlib_chip:
            descriptors = self._model.model.model.compute_face_descriptor(
                [chip[0] for chip in inputs]
            )
            return np.asarray(descriptors, dtype=np.float32)
        embeddings = self._model.forward(np.concatenate(inputs, axis=0))
        return np.asarray(embeddings, dtype=np.float32).reshape(len(inputs), -1)

    # -- one batch ---------------------------------------------------------
    def run(self, tasks: list[ImageTask]) -> list[dict]:
        """Faces rows for ``tasks``, in order; the model runs once on the batch."""
        rows: list[dict] = []
        inputs: list[np.ndarray] = []
        waiting: list[dict] = []  # ok rows whose embedding comes from the batched call
        for task in tasks:
            row, model_input = self._one(task)
            rows.append(row)
            if model_input is not None:
                inputs.append(model_input)
                waiting.append(row)
        if inputs:
            for row, vector in zip(waiting, self._embed(inputs), strict=True):
                row["embedding"] = vector.tolist()
        return rows

    def _one(self, task: ImageTask) -> tuple[dict, np.ndarray | None]:
        def failed(status: str, message: str | None = None) -> tuple[dict, None]:
            return empty_row(task.image_id, task.content_hash, self.key, status, message), None

        try:
            data = read_bytes(task.path)
        except OSError as error:  # seen by the client, not by this worker: not cached, retried
            return failed("error", f"cannot read {task.path}: {type(error).__name__}: {error}")
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return failed("unreadable", f"{Path(task.path).name} does not decode as an image")
        try:
            faces = [f for f in self._faces(image) if f.img.shape[0] and f.img.shape[1]]
            if not faces:
                return failed("no_face")
            face = max(faces, key=lambda f: f.facial_area.w * f.facial_area.h)
            area = face.facial_area
            box = (int(area.x), int(area.y), int(area.w), int(area.h))
            landmarks = self._landmarks(
                np.ascontiguousarray(image[:, :, ::-1]),
                self._dlib.rectangle(box[0], box[1], box[0] + box[2], box[1] + box[3]),
            )
            points = np.array([(p.x, p.y) for p in landmarks.parts()], dtype=np.float64)
            model_input = self._model_input(image, face, landmarks)
        except self._face_not_detected:
            return failed("no_face")
        except Exception as error:  # one image's failure must not stop the run
            return failed("error", f"{type(error).__name__}: {error}")
        quality = measure(image, box, points)
        row = empty_row(task.image_id, task.content_hash, self.key, "ok")
        row.update(
            n_faces=len(faces), box_x=box[0], box_y=box[1], box_w=box[2], box_h=box[3],
            confidence=float(area.confidence or 0.0), face_height_px=quality.face_height_px,
            brightness=quality.brightness, contrast=quality.contrast,
            sharpness=quality.sharpness, yaw_deg=quality.yaw_deg,
        )
        return row, model_input


def embed_batch(embedder: FaceEmbedder, tasks: list[ImageTask]) -> list[dict]:
    """``embedder.run(tasks)``, or one ``error`` row per image if the batch as a whole fails.

    :meth:`FaceEmbedder.run` already turns each image's failure into a row; this
    also covers a failure of the batched model call, so that one bad batch is
    rows with a status (not cached, so retried next run), never a failed run.
    Every executor runs batches through this function.
    """
    try:
        return embedder.run(tasks)
    except Exception as error:  # the batch's images get rows, the run goes on
        message = f"batch failed: {type(error).__name__}: {error}"
        return [empty_row(t.image_id, t.content_hash, embedder.key, "error", message)
                for t in tasks]

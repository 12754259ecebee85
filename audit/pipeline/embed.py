"""The unit of work: a batch of images -> faces rows, for one configuration.

:class:`FaceEmbedder` loads the detector and model once per process and turns
a batch of (image_id, content_hash, absolute path) into faces rows (one dict
per image, keys of :data:`audit.schema.FACES`). It is a pure function of the
images and the configuration, so any worker can run any batch.

Each image is read, decoded, detected and embedded inside its own error
boundary: a failure is that image's row with a status and a one-line message,
and the rest of its batch is unaffected. ``unreadable``: not a regular file,
over a size or pixel limit, or the bytes do not decode (:mod:`.decode`);
``no_face``: deepface's ``FaceNotDetected`` or no box; ``error``: anything
else raised for that image, including its embedding. ``missing`` and the
unreadable rows of files that cannot even be hashed are made before any work,
by the caller. When the detector finds several faces, the configuration's
``face_selection`` picks the subject (:func:`choose_face`), or, with ``all``,
every face gets its own row (``face_index`` says which); every face's box is
kept in each row.

deepface is imported here, lazily, and only its modules (never
``deepface.DeepFace``, which silences warnings process-wide and creates
folders at import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .config import FaceSelection, PipelineConfig, Preprocess
from .decode import MAX_FILE_BYTES, ImageProblem, decode_image, read_image_bytes
from .quality import measure
from .time_limit import ImageTimeout, time_limit
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


def read_location(location: str | os.PathLike) -> bytes | ImageProblem:
    """The bytes of a local file (:func:`~.decode.read_image_bytes`: regular files
    only, size-limited, never blocking) or of an fsspec URL (``s3://`` needs
    s3fs installed), or the problem that prevents reading them."""
    if not is_url(location):
        return read_image_bytes(location)
    import fsspec

    try:
        with fsspec.open(location, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return ImageProblem("missing", "file not found")
    except OSError as error:
        return ImageProblem("unreadable", f"cannot read the file: {type(error).__name__}: {error}")
    if len(data) > MAX_FILE_BYTES:
        return ImageProblem("unreadable",
                            f"file larger than the {MAX_FILE_BYTES // 2**20} MB limit")
    return data


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
        "yaw_deg": None, "embedding": None, "n_frames": None, "face_boxes": None,
        "face_index": None,
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
        # dlib's recipe detects on RGB (deepface's own path hands the detector BGR)
        seen = (np.ascontiguousarray(image[:, :, ::-1])
                if config.preprocess is Preprocess.dlib_chip else image)
        return [
            self._detection.extract_face(
                facial_area=area, img=image, align=config.align, expand_percentage=0,
                width_border=0, height_border=0, detector_backend=config.detector,
            )
            for area in self._detector.detect_faces(seen)
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
        """Faces rows for ``tasks``, in order (one per image, or one per face with
        face selection ``all``); the model runs once on the batch.

        Should the batched model call fail, each face is embedded alone, so
        that only the image that fails gets an ``error`` row.
        """
        per_image = [self._limited(task) for task in tasks]
        waiting = [(row, model_input) for pairs in per_image for row, model_input in pairs
                   if model_input is not None]  # ok rows whose embedding is still to come
        if waiting:
            inputs = [model_input for _, model_input in waiting]
            try:
                with time_limit(self._limit(len(inputs))):
                    vectors = list(self._embed(inputs))
            except (Exception, ImageTimeout):  # some input breaks or stalls the model: find it
                vectors = [self._embed_alone(model_input, row) for row, model_input in waiting]
            for (row, _), vector in zip(waiting, vectors, strict=True):
                if vector is not None:
                    row["embedding"] = vector.tolist()
        return [row for pairs in per_image for row in _whole_image([r for r, _ in pairs])]

    def _limit(self, n_images: int = 1) -> float | None:
        """Seconds ``n_images`` may take together (None: no limit)."""
        seconds = self.config.image_timeout
        return seconds * n_images if seconds else None

    def _timed_out(self, row: dict, step: str) -> dict:
        """``row`` turned into a ``timeout`` row, keeping what was learnt before the step."""
        message = f"{step} took longer than the {self.config.image_timeout:g} s limit per image"
        timed = empty_row(row["image_id"], row["content_hash"], self.key, "timeout", message)
        return {**timed, "n_frames": row.get("n_frames")}

    def _limited(self, task: ImageTask) -> list[tuple[dict, np.ndarray | None]]:
        """:meth:`_one` within the per-image time limit; past it, a ``timeout`` row."""
        try:
            with time_limit(self._limit()):
                return self._one(task)
        except ImageTimeout:
            row = empty_row(task.image_id, task.content_hash, self.key, "timeout")
            return [(self._timed_out(row, "reading, decoding and detection"), None)]

    def _embed_alone(self, model_input: np.ndarray, row: dict) -> np.ndarray | None:
        """One image's embedding; on failure its row becomes ``error`` (``timeout``
        past the limit), and None."""
        try:
            with time_limit(self._limit()):
                return self._embed([model_input])[0]
        except ImageTimeout:
            row.update(self._timed_out(row, "embedding"))
        except Exception as error:  # this image only
            row.update(empty_row(row["image_id"], row["content_hash"], self.key, "error",
                                 f"embedding failed: {type(error).__name__}: {error}"))
        return None

    def _one(self, task: ImageTask) -> list[tuple[dict, np.ndarray | None]]:
        """One image's rows (one per face used), each with its model input (None
        when no face was found); never raises."""
        def failed(status: str, message: str | None = None, **extra):
            row = empty_row(task.image_id, task.content_hash, self.key, status, message)
            return [({**row, **extra}, None)]

        data = read_location(task.path)
        decoded = data if isinstance(data, ImageProblem) else decode_image(data)
        if isinstance(decoded, ImageProblem):
            status = "error" if decoded.status == "missing" else decoded.status  # gone since hashed
            return failed(status, decoded.message)
        image = decoded.image
        try:
            faces = [f for f in self._faces(image) if f.img.shape[0] and f.img.shape[1]]
            boxes = [_box(face) for face in faces]
            if not faces:
                return failed("no_face", n_frames=decoded.n_frames, face_boxes=[])
            selection = self.config.face_selection
            used = (range(len(faces)) if selection is FaceSelection.all
                    else [choose_face(boxes, image.shape[1], image.shape[0], selection)])
            rows = [self._face_row(task, image, faces[i], boxes, i) for i in used]
        except self._face_not_detected:
            return failed("no_face", n_frames=decoded.n_frames, face_boxes=[])
        except Exception as error:  # one image's failure must not stop the run
            return failed("error", f"{type(error).__name__}: {error}", n_frames=decoded.n_frames)
        for row, _ in rows:
            row["n_frames"] = decoded.n_frames
        return rows

    def _face_row(self, task: ImageTask, image: np.ndarray, face, boxes: list[dict],
                  index: int) -> tuple[dict, np.ndarray]:
        """The ``ok`` row of face ``index`` (embedding still to come) and its model input."""
        box = boxes[index]
        landmarks = self._landmarks(
            np.ascontiguousarray(image[:, :, ::-1]),
            self._dlib.rectangle(box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]),
        )
        points = np.array([(p.x, p.y) for p in landmarks.parts()], dtype=np.float64)
        model_input = self._model_input(image, face, landmarks)
        quality = measure(image, (box["x"], box["y"], box["w"], box["h"]), points)
        row = empty_row(task.image_id, task.content_hash, self.key, "ok")
        row.update(
            n_faces=len(boxes), box_x=box["x"], box_y=box["y"], box_w=box["w"],
            box_h=box["h"], confidence=box["confidence"],
            face_height_px=quality.face_height_px, brightness=quality.brightness,
            contrast=quality.contrast, sharpness=quality.sharpness, yaw_deg=quality.yaw_deg,
            face_boxes=boxes, face_index=index,
        )
        return row, model_input


def _whole_image(rows: list[dict]) -> list[dict]:
    """An image's rows, or only its first failed row when one of its faces failed:
    an image is cached whole or not at all (a face missing from the cache would
    otherwise be lost for good, since the image's content hash is found there)."""
    failed = [row for row in rows if row["status"] != "ok"]
    return failed[:1] if failed and len(rows) > 1 else rows


def _box(face) -> dict:
    """A detected face's box and confidence, as a :data:`audit.schema.FACE_BOX` value."""
    area = face.facial_area
    return {"x": int(area.x), "y": int(area.y), "w": int(area.w), "h": int(area.h),
            "confidence": float(area.confidence or 0.0)}


def choose_face(boxes: list[dict], width: int, height: int,
                selection: FaceSelection) -> int:
    """Index of the subject's face among ``boxes`` (see :class:`FaceSelection`).

    ``centre``: smallest distance from the box centre to the image centre,
    ties to the larger box, then to the first; ``largest``: largest area, ties
    to the first.

    >>> boxes = [{"x": 0, "y": 0, "w": 50, "h": 50}, {"x": 40, "y": 40, "w": 20, "h": 20}]
    >>> choose_face(boxes, 100, 100, FaceSelection.centre), choose_face(boxes, 100, 100, "largest")
    (1, 0)
    """
    areas = np.array([b["w"] * b["h"] for b in boxes], dtype=np.float64)
    if FaceSelection(selection) is FaceSelection.largest:
        return int(np.argmax(areas))
    centres = np.array([(b["x"] + b["w"] / 2, b["y"] + b["h"] / 2) for b in boxes])
    distance = np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)
    return int(np.lexsort((-areas, distance))[0])


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

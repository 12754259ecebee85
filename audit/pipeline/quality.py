"""Measured capture-quality features of a detected face.

Error rates depend on capture conditions as much as on demographics, and
public datasets rarely label conditions. These features are measured on every
face so that the metrics stage can bin them into readable bands (small / medium
/ large faces, dark / normal / bright, blurred / sharp, frontal / turned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Faces are resized to this square before measuring sharpness, so that the
#: Laplacian variance compares faces of different sizes on one scale.
SHARPNESS_SIDE = 128

#: Depth of the nose base in front of the eyes, as a share of the distance
#: between the eye centres, for the yaw model below (adult average, coarse).
NOSE_DEPTH_RATIO = 0.35


@dataclass(frozen=True)
class Quality:
    face_height_px: int
    brightness: float  # mean grey level of the face box, 0-255
    contrast: float  # RMS contrast: standard deviation of grey levels, 0-127.5
    sharpness: float  # variance of the Laplacian at SHARPNESS_SIDE px
    yaw_deg: float | None  # coarse head-turn estimate from 5 landmarks


def measure(image_bgr: np.ndarray, box: tuple[int, int, int, int],
            landmarks: np.ndarray | None) -> Quality:
    """Quality features of the face in ``box`` (x, y, w, h) of the original image.

    ``landmarks`` are dlib's 5 points (two corners of each eye, then the nose
    base) in image coordinates, or None when they could not be placed.
    """
    x, y, w, h = box
    crop = image_bgr[max(y, 0): y + h, max(x, 0): x + w]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.size else np.zeros((1, 1), np.uint8)
    square = cv2.resize(grey, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    return Quality(
        face_height_px=int(h),
        brightness=float(grey.mean()),
        contrast=float(grey.std()),
        sharpness=float(cv2.Laplacian(square, cv2.CV_64F).var()),
        yaw_deg=None if landmarks is None else yaw_from_landmarks(landmarks),
    )


def yaw_from_landmarks(points: np.ndarray) -> float:
    """Coarse yaw in degrees from dlib's 5-point landmarks (0 = frontal).

    With the eyes' midpoint as origin, the nose base sits in front of the eye
    plane by ``NOSE_DEPTH_RATIO`` times the eye distance. Turning the head by
    yaw moves it sideways by ``depth * sin(yaw)`` while the eye distance seen
    shrinks by ``cos(yaw)``, so ``offset / eye_distance = ratio * tan(yaw)``.
    Good enough to band faces into frontal / turned, not a pose measurement.
    The sign is positive when the nose lies to the image's right of the eyes.
    """
    eye_a = points[0:2].mean(axis=0)
    eye_b = points[2:4].mean(axis=0)
    nose = points[4]
    axis = eye_b - eye_a
    distance = float(np.hypot(*axis))
    if distance == 0:
        return float("nan")
    along = float(np.dot(nose - (eye_a + eye_b) / 2, axis / distance))
    sign = 1.0 if axis[0] >= 0 else -1.0  # measure along the image's x direction
    return math.degrees(math.atan2(sign * along / distance, NOSE_DEPTH_RATIO))

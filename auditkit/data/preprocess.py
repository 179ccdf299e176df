"""Face preprocessing for ingestion: detect the face, level the eyes, crop a square and scale it to 128x128 gray.

Detectors whose weights ship inside installed packages, so nothing is downloaded at run time: OpenCV's Haar cascade
(cv2.data, the default) or dlib's HOG frontal-face detector (compiled into dlib; `pip install "auditkit[dlib]"`),
which misses fewer expressive faces (benchmarks/bench_detectors.py). Eyes are levelled with OpenCV's eye cascade.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auditkit.errors import AuditkitError

NO_FACE = "no_face"
DETECTORS = ("haar", "dlib-hog")


@dataclass(frozen=True)
class PreprocessConfig:
    """How faces are found and cropped; recorded in dataset.json so an ingest can be reproduced."""

    size: int = 128
    detect_width: int = 640  # frames are shrunk to at most this width for detection (speed), crops come from full size
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face: float = 0.15  # smallest face side as a fraction of the frame's shorter side
    margin: float = 0.1  # widen the detector's box by this fraction on every side before cropping
    align: bool = True  # rotate so the eyes are level when both eyes are found
    cascade: str = "haarcascade_frontalface_default.xml"
    eye_cascade: str = "haarcascade_eye.xml"
    detector: str = "haar"  # or "dlib-hog"

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise AuditkitError(
                f"--detector: unknown face detector {self.detector!r} (choose from {', '.join(DETECTORS)})"
            )


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise AuditkitError(
            f"{path}: OpenCV could not load this face detector (is opencv-python-headless < 5 installed?)"
        )
    return clf


def _dlib_detector():
    try:
        import dlib
    except ImportError:
        raise AuditkitError('--detector dlib-hog needs dlib: pip install "auditkit[dlib]"') from None
    return dlib.get_frontal_face_detector()


class FacePreprocessor:
    """Turns a camera frame into an aligned (size, size) uint8 face crop, or None when no face is found."""

    def __init__(self, config: PreprocessConfig = PreprocessConfig()) -> None:
        self.config = config
        self._faces = _cascade(config.cascade) if config.detector == "haar" else None
        self._hog = _dlib_detector() if config.detector == "dlib-hog" else None
        self._eyes = _cascade(config.eye_cascade) if config.align else None

    def detect(self, gray: np.ndarray) -> tuple[int, int, int, int] | None:
        """The largest face box (x, y, w, h) in full-frame pixels, or None."""
        cfg = self.config
        h, w = gray.shape
        scale = min(1.0, cfg.detect_width / w)
        small = (
            cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else gray
        )
        side = max(24, int(min(small.shape) * cfg.min_face))
        if self._hog is not None:
            # dlib's HOG detector finds faces from ~80 px; rectangles may reach past the frame, so clip them
            rects = self._hog(np.ascontiguousarray(small), 0)
            boxes = [(max(0, r.left()), max(0, r.top()), min(small.shape[1], r.right()) - max(0, r.left()),
                      min(small.shape[0], r.bottom()) - max(0, r.top())) for r in rects]
            boxes = [b for b in boxes if min(b[2], b[3]) >= side]
        else:
            boxes = self._faces.detectMultiScale(small, cfg.scale_factor, cfg.min_neighbors, minSize=(side, side))
        if len(boxes) == 0:
            return None
        x, y, bw, bh = max(boxes, key=lambda b: int(b[2]) * int(b[3]))
        return tuple(int(round(v / scale)) for v in (x, y, bw, bh))  # type: ignore[return-value]

    def eye_angle(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> float:
        """Roll of the face in degrees from the two eyes in the upper half of the box; 0 when they are not both
        found."""
        if self._eyes is None:
            return 0.0
        x, y, w, h = box
        upper = gray[y : y + h // 2, x : x + w]
        side = max(8, w // 8)
        eyes = self._eyes.detectMultiScale(upper, 1.1, 5, minSize=(side, side), maxSize=(w // 2, w // 2))
        left = [e for e in eyes if e[0] + e[2] / 2 < w / 2]
        right = [e for e in eyes if e[0] + e[2] / 2 >= w / 2]
        if not left or not right:
            return 0.0
        lx, ly, lw, lh = max(left, key=lambda e: e[2] * e[3])
        rx, ry, rw, rh = max(right, key=lambda e: e[2] * e[3])
        dx = (rx + rw / 2) - (lx + lw / 2)
        dy = (ry + rh / 2) - (ly + lh / 2)
        angle = float(np.degrees(np.arctan2(dy, dx)))
        return angle if abs(angle) <= 30 else 0.0  # a larger roll is a false eye, not a tilted head

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """Aligned grayscale crop of the largest face in a BGR or gray frame; None when no face is found."""
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        box = self.detect(gray)
        if box is None:
            return None
        cfg = self.config
        x, y, w, h = box
        cx, cy = x + w / 2.0, y + h / 2.0
        half = max(w, h) * (0.5 + cfg.margin)
        angle = self.eye_angle(gray, box)
        side = max(1, int(round(2 * half)))
        # rotate about the face centre into a native-resolution square, then shrink with area averaging (no aliasing)
        m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
        m[0, 2] += side / 2.0 - cx
        m[1, 2] += side / 2.0 - cy
        crop = cv2.warpAffine(gray, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.resize(crop, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)

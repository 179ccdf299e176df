"""What an ingester hands the writer: labelled sequences (units) and where each one's pixels come from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from auditkit.errors import DatasetError


@dataclass(frozen=True)
class ImageFrames:
    """Pixels stored one image file per frame (BP4D): frame number -> path."""

    paths: dict[int, Path]

    def read(self, frames: list[int]) -> Iterator[tuple[int, np.ndarray | None, Path]]:
        """Yield (frame, BGR image or None if unreadable, file) in the given order, one image in memory at a time."""
        for f in frames:
            path = self.paths[f]
            yield f, read_image(path), path


def read_image(path: Path) -> np.ndarray | None:
    """A BGR image, or None if the file is unreadable: not an image, or a JPEG cut short.

    OpenCV decodes a truncated JPEG without complaint (the missing rows come out grey), which would be miscounted
    as "no face found"; a complete JPEG ends with the EOI marker FF D9.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@dataclass(frozen=True)
class VideoFrames:
    """Pixels stored in one video file (DISFA); frame k is the k-th decoded frame, counting from 1."""

    path: Path

    def read(self, frames: list[int]) -> Iterator[tuple[int, np.ndarray | None, Path]]:
        """Decode sequentially and yield the wanted frames; a video shorter than its labels is an error."""
        wanted = set(frames)
        last = max(frames) if frames else 0
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise DatasetError(
                self.path, None, "cannot open this video (corrupt file or codec not supported by OpenCV)"
            )
        try:
            k = 0
            while k < last:
                ok = cap.grab()
                if not ok:
                    raise DatasetError(self.path, "frames", f"label/frame count mismatch: labels run to frame {last} "
                                                            f"but the video ends after {k} frames")
                k += 1
                if k in wanted:
                    ok, img = cap.retrieve()
                    yield k, (img if ok else None), self.path
        finally:
            cap.release()


@dataclass(frozen=True)
class Unit:
    """One labelled sequence: `labels` has a `frame` column then AUxx (1/0/-1) and AUxx_intensity (0-5/-1) columns."""

    subject: str
    sequence: str
    labels: pd.DataFrame = field(repr=False)
    pixels: ImageFrames | VideoFrames = field(repr=False)
    label_file: Path
    unlabelled: int = 0  # frames with pixels but no labels: kept out, counted

    @property
    def key(self) -> str:
        """Stable name of this unit, used for its shard files."""
        return f"{self.subject}__{self.sequence}"

"""Turn an identity plus per-frame AU intensities, head pose and light into aligned grayscale crops."""

from __future__ import annotations

import cv2
import numpy as np

from auditkit.data.synth.capture import Capture
from auditkit.data.synth.face import FaceModel, build_face_model
from auditkit.data.synth.identity import Identity


def _homography(size: int, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Image-plane homography of a face plane rotated by (yaw, pitch, roll) degrees, seen by a pinhole camera."""
    a, b, g = np.deg2rad([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
    r = rz @ ry @ rx
    f = 2.5 * size
    c = size / 2.0
    src = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float64)
    pts = np.concatenate([src - c, np.zeros((4, 1))], axis=1) @ r.T
    dst = f * pts[:, :2] / (pts[:, 2:] + f) + c
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))


class FaceRenderer:
    """Renders one identity under one capture; build once per subject, then render many frames fast."""

    def __init__(self, ident: Identity, capture: Capture, size: int = 128, model: FaceModel | None = None) -> None:
        self.ident = ident
        self.capture = capture
        self.size = size
        m = model if model is not None else build_face_model(ident, size)
        light = np.asarray(capture.light, np.float32)
        light = light / np.linalg.norm(light)
        lambert = np.clip(np.tensordot(light, m.normals, axes=1), 0, None)
        lit = m.albedo * (capture.ambient + capture.diffuse * lambert)
        self._face = (m.fg * lit).astype(np.float32)
        self._background = ((1.0 - m.fg) * capture.background).astype(np.float32)
        self._disp = m.disp.reshape(m.disp.shape[0], -1)
        self._shade = m.shade.reshape(m.shade.shape[0], -1)
        gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
        self._gx, self._gy = gx, gy

    def render(self, intensities: np.ndarray, pose: np.ndarray | None = None, light: np.ndarray | None = None,
               rng: np.random.Generator | None = None) -> np.ndarray:
        """Frames (n, H, W) uint8 for intensities (n, K); pose (n, 3) degrees; light (n,) gains; rng adds sensor
        noise."""
        a = np.asarray(intensities, np.float32)
        n = a.shape[0]
        s = self.size
        cap = self.capture
        pose = np.zeros((n, 3)) if pose is None else np.asarray(pose)
        light = np.ones(n) if light is None else np.asarray(light)
        disp = (a @ self._disp).reshape(n, 2, s, s)
        shade = (a @ self._shade).reshape(n, s, s)
        noise = rng.standard_normal((n, s, s), dtype=np.float32) * (cap.noise / 255.0) if rng is not None else None
        out = np.empty((n, s, s), np.uint8)
        for i in range(n):
            img = self._face * (1.0 - shade[i]) * (cap.level * light[i]) + self._background
            # backward map: the pixel at p shows the neutral face at p - d(p)
            img = cv2.remap(
                img, self._gx - disp[i, 0], self._gy - disp[i, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            h = _homography(s, cap.camera_yaw + pose[i, 0], cap.camera_pitch + pose[i, 1], pose[i, 2])
            img = cv2.warpPerspective(img, h, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if cap.blur > 0:
                img = cv2.GaussianBlur(img, (0, 0), cap.blur * s / 128.0)
            if noise is not None:
                img += noise[i]
            out[i] = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return out

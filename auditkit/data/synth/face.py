"""Draw one identity's neutral face and the per-AU deformation and wrinkle bases tied to its landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from auditkit.data.synth.aus import AUS
from auditkit.data.synth.identity import Identity

SUPERSAMPLE = 4
_SHIFT = 4  # sub-pixel bits for cv2 polygon drawing
# Aligned crops are tight: canvas point CROP_CENTER lands in the image centre, magnified by ZOOM.
ZOOM = 1.25
CROP_CENTER = (64.0, 66.0)
# Overall strength of AU deformation and wrinkling, tuned so that a within-person pixel probe detects AUs
# clearly while pose, light and identity still confuse a cross-person one (see tests/test_synth_signal.py).
DISPLACEMENT_GAIN = 1.4
SHADING_GAIN = 1.6


@dataclass
class FaceModel:
    """Rendering inputs for one identity at one output size (arrays at output resolution)."""

    albedo: np.ndarray  # (H, W) reflectance in [0, 1]
    fg: np.ndarray  # (H, W) head/hair coverage in [0, 1]
    normals: np.ndarray  # (3, H, W) unit surface normals for lighting
    disp: np.ndarray  # (K, 2, H, W) pixels of displacement per unit AU intensity (x, y)
    shade: np.ndarray  # (K, H, W) fractional darkening per unit AU intensity (negative brightens)


class Canvas:
    """Draws antialiased masks: polygons at SUPERSAMPLE x resolution, area-averaged down to the output size."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.unit = size / 128.0 * ZOOM  # output pixels per canvas unit
        self.big = size * SUPERSAMPLE
        y, x = np.mgrid[0:size, 0:size].astype(np.float32)
        # canvas coordinates of each output pixel's centre
        self.x, self.y = self.to_canvas(x + 0.5, y + 0.5)

    def to_pixels(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple:
        """Canvas coordinates -> output pixel coordinates."""
        return ((x - CROP_CENTER[0]) * self.unit + self.size / 2, (y - CROP_CENTER[1]) * self.unit + self.size / 2)

    def to_canvas(self, px: np.ndarray | float, py: np.ndarray | float) -> tuple:
        """Output pixel coordinates -> canvas coordinates."""
        return ((px - self.size / 2) / self.unit + CROP_CENTER[0], (py - self.size / 2) / self.unit + CROP_CENTER[1])

    def _fixed(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=np.float64)
        px, py = self.to_pixels(pts[:, 0], pts[:, 1])
        scale = SUPERSAMPLE * (1 << _SHIFT)
        return np.round(np.stack([px, py], 1) * scale).astype(np.int32).reshape(-1, 1, 2)

    def _down(self, big: np.ndarray) -> np.ndarray:
        return cv2.resize(big, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def poly(self, pts: np.ndarray) -> np.ndarray:
        """Filled polygon mask from (N, 2) canvas points."""
        big = np.zeros((self.big, self.big), np.uint8)
        cv2.fillPoly(big, [self._fixed(pts)], 255, lineType=cv2.LINE_8, shift=_SHIFT)
        return self._down(big)

    def stroke(self, pts: np.ndarray, width: float, blur: float = 0.0) -> np.ndarray:
        """Polyline mask of a given width (canvas units), optionally softened."""
        big = np.zeros((self.big, self.big), np.uint8)
        thickness = max(1, int(round(width * self.unit * SUPERSAMPLE)))
        cv2.polylines(big, [self._fixed(pts)], False, 255, thickness=thickness, lineType=cv2.LINE_8, shift=_SHIFT)
        mask = self._down(big)
        return self.soften(mask, blur) if blur > 0 else mask

    def ellipse(self, cx: float, cy: float, ax: float, ay: float, n: int = 48) -> np.ndarray:
        """Filled axis-aligned ellipse mask."""
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        return self.poly(np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1))

    def soften(self, mask: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian blur with sigma in canvas units."""
        return cv2.GaussianBlur(mask, (0, 0), sigma * self.unit)

    def blob(self, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
        """Unnormalized anisotropic Gaussian bump (peak 1)."""
        return np.exp(-0.5 * (((self.x - cx) / sx) ** 2 + ((self.y - cy) / sy) ** 2)).astype(np.float32)


def _blend(img: np.ndarray, mask: np.ndarray, value: float | np.ndarray, alpha: float = 1.0) -> np.ndarray:
    a = np.clip(mask * alpha, 0.0, 1.0)
    return img * (1.0 - a) + a * value


def _band_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    noise = rng.standard_normal((size, size)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma)
    return smooth / (smooth.std() + 1e-6)


def head_outline(ident: Identity, scale: float = 1.0, n: int = 96) -> np.ndarray:
    """Head contour: an ellipse whose lower half narrows towards the jaw."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    lower = np.clip(np.sin(t), 0, None)
    width = 1.0 - (1.0 - ident.jaw) * lower**1.5
    x = ident.face_cx + ident.face_hw * scale * np.cos(t) * width
    y = ident.face_cy + ident.face_hh * scale * np.sin(t)
    return np.stack([x, y], axis=1)


def mouth_line(ident: Identity, n: int = 25, extend: float = 1.0) -> np.ndarray:
    """The line between the lips; its corners sit higher for positive mouth_curve."""
    u = np.linspace(-extend, extend, n)
    x = ident.face_cx + ident.mouth_hw * u
    y = ident.mouth_y - ident.mouth_curve * u**2
    return np.stack([x, y], axis=1)


def _lips(c: Canvas, ident: Identity) -> tuple[np.ndarray, np.ndarray]:
    u = np.linspace(-1, 1, 31)
    x = ident.face_cx + ident.mouth_hw * u
    line_y = ident.mouth_y - ident.mouth_curve * u**2
    taper = np.sqrt(np.clip(1 - u**2, 0, 1))
    cupid = 1.0 - 0.3 * np.exp(-((u * ident.mouth_hw) / 2.2) ** 2) + 0.15 * np.exp(-((np.abs(u) - 0.3) / 0.15) ** 2)
    upper_top = line_y - ident.lip_up * taper * cupid
    lower_bot = line_y + ident.lip_low * taper**0.8
    upper = c.poly(np.concatenate([np.stack([x, line_y], 1), np.stack([x, upper_top], 1)[::-1]]))
    lower = c.poly(np.concatenate([np.stack([x, line_y], 1), np.stack([x, lower_bot], 1)[::-1]]))
    return upper, lower


def _eye(c: Canvas, ident: Identity, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ex = ident.face_cx + side * ident.eye_dx
    p = np.linspace(0, 1, 25)
    x = ex + side * ident.eye_hw * (2 * p - 1)
    upper = ident.eye_y - 1.15 * ident.eye_hh * np.sin(np.pi * p) ** 0.8
    lower = ident.eye_y + 0.8 * ident.eye_hh * np.sin(np.pi * p)
    almond = c.poly(np.concatenate([np.stack([x, upper], 1), np.stack([x, lower], 1)[::-1]]))
    iris = c.ellipse(ex, ident.eye_y + 0.2, 1.25 * ident.eye_hh, 1.25 * ident.eye_hh) * almond
    pupil = c.ellipse(ex, ident.eye_y + 0.2, 0.5 * ident.eye_hh, 0.5 * ident.eye_hh) * almond
    lid = c.stroke(np.stack([x, upper - 0.2], 1), 0.9)
    return almond, iris, pupil, lid


def _brow(c: Canvas, ident: Identity, side: int) -> np.ndarray:
    x0 = ident.face_cx + side * (ident.eye_dx - 0.85 * ident.eye_hw)
    x1 = ident.face_cx + side * (ident.eye_dx + 1.35 * ident.eye_hw)
    p = np.linspace(0, 1, 21)
    x = x0 + (x1 - x0) * p
    low = ident.brow_y - ident.brow_arch * np.sin(np.pi * p * 0.85) - ident.brow_slant * (p - 0.5)
    top = low - ident.brow_thick * (1.0 - 0.45 * p)
    return c.soften(c.poly(np.concatenate([np.stack([x, low], 1), np.stack([x, top], 1)[::-1]])), 0.35)


def _fold_curve(ident: Identity, side: int, frac: float = 1.0) -> np.ndarray:
    p = np.linspace(0, frac, 15)
    x0, y0 = ident.face_cx + side * (ident.nose_hw + 1.5), ident.nose_y - 1.0
    x1, y1 = ident.face_cx + side * (ident.mouth_hw + 3.0), ident.mouth_y + 3.0
    bow = 2.5 * np.sin(np.pi * p)
    return np.stack([x0 + (x1 - x0) * p + side * bow, y0 + (y1 - y0) * p], axis=1)


def _albedo(c: Canvas, ident: Identity, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    size = c.size
    cx = ident.face_cx
    face = c.poly(head_outline(ident))
    ears = sum(c.ellipse(cx + s * (ident.face_hw - 0.5), ident.eye_y + 9, 3.2, 8.5) for s in (-1, 1))
    neck = c.poly(
        np.array(
            [
                [cx - ident.face_hw * 0.55, ident.face_cy + 20],
                [cx + ident.face_hw * 0.55, ident.face_cy + 20],
                [cx + ident.face_hw * 0.62, 140],
                [cx - ident.face_hw * 0.62, 140],
            ]
        )
    )
    skin_mask = np.clip(face + ears, 0, 1)
    img = np.zeros((size, size), np.float32)
    img = _blend(img, neck, ident.skin * 0.8)
    img = _blend(img, skin_mask, ident.skin)
    fg = np.clip(face + ears + neck, 0, 1)

    # skin texture and freckles, stronger with age via `texture`
    tex = _band_noise(rng, size, 0.6 * c.unit)
    img = img * (1 + 0.45 * ident.texture * tex * skin_mask)
    if ident.freckles > 0:
        spots = np.zeros_like(img)
        for _ in range(int(30 * ident.freckles)):
            fx = cx + rng.normal(0, 12)
            fy = ident.nose_y - 4 + rng.normal(0, 5)
            spots += c.blob(fx, fy, 0.6, 0.6)
        img = img * (1 - 0.18 * np.clip(spots, 0, 1))

    # hair cap above a per-person hairline, side hair for longer styles
    xs = np.linspace(cx - ident.face_hw * 1.12, cx + ident.face_hw * 1.12, 41)
    rel = (xs - cx) / (ident.face_hw * 1.12)
    temple = ident.eye_y - 8
    hl = ident.hairline + (temple - ident.hairline) * np.abs(rel) ** 3.5 + ident.widow * np.exp(-((xs - cx) / 3.0) ** 2)
    cap_top = ident.face_cy - ident.face_hh * 1.12 * np.sqrt(np.clip(1 - rel**2, 0, 1)) - 1.0
    cap = c.poly(np.concatenate([np.stack([xs, hl], 1), np.stack([xs, cap_top], 1)[::-1]]))
    side_region = c.ellipse(cx, ident.face_cy + 4, ident.face_hw * 1.28, ident.face_hh * 1.08)
    below_hairline = (c.y > ident.eye_y - 14).astype(np.float32) * (c.y < ident.face_cy + ident.face_hh * 0.85)
    side = np.clip(side_region - face - neck * 0.5, 0, 1) * below_hairline * ident.hair_side
    hair = np.clip(cap + side, 0, 1)
    strands = _band_noise(rng, size, 0.5 * c.unit)
    img = _blend(img, c.soften(hair, 0.4), ident.hair_tone * (1 + 0.18 * strands))
    fg = np.clip(fg + hair, 0, 1)

    # brows take their colour from the hair, so light-haired people have low-contrast brows
    brow_value = ident.hair_tone * 0.9 + 0.03
    for s in (-1, 1):
        img = _blend(img, _brow(c, ident, s), brow_value, ident.brow_dark)

    # eyes: socket shadow, sclera, iris, pupil, lid line and crease
    for s in (-1, 1):
        ex = cx + s * ident.eye_dx
        img = img * (1 - 0.12 * c.blob(ex, ident.eye_y - 0.5, ident.eye_hw * 1.1, ident.eye_hh * 2.2))
        almond, iris, pupil, lid = _eye(c, ident, s)
        img = _blend(img, almond, 0.78)
        img = _blend(img, iris, 0.25)
        img = _blend(img, pupil, 0.05)
        img = _blend(img, lid, 0.07, 0.85)
        p = np.linspace(0.1, 0.9, 15)
        crease_y = ident.eye_y - 2.3 * ident.eye_hh * np.sin(np.pi * p) ** 0.7
        crease_pts = np.stack([ex + s * ident.eye_hw * (2 * p - 1), crease_y], 1)
        img = img * (1 - 0.18 * c.stroke(crease_pts, 0.7, 0.3))

    # nose: nostrils, wing arcs, shadow under the tip
    for s in (-1, 1):
        img = _blend(
            img, c.soften(c.ellipse(cx + s * ident.nose_hw * 0.45, ident.nose_y + 0.6, 1.9, 1.0), 0.3), 0.1, 0.8
        )
        t = np.linspace(-0.3, 1.6, 12)
        wing = np.stack([cx + s * (ident.nose_hw * 0.55 + 1.8 * np.cos(t)), ident.nose_y - 0.8 - 2.2 * np.sin(t)], 1)
        img = img * (1 - 0.13 * c.stroke(wing, 0.8, 0.4))
    img = img * (1 - 0.10 * c.blob(cx, ident.nose_y + 2.2, ident.nose_hw * 0.8, 1.2))

    # lips, the line between them, and resting nasolabial folds
    upper, lower = _lips(c, ident)
    lip_value = ident.skin * ident.lip_tone
    img = _blend(img, c.soften(upper + lower, 0.3), lip_value)
    img = _blend(img, c.stroke(mouth_line(ident, extend=1.04), 0.8, 0.25), 0.08, 0.75)
    for s in (-1, 1):
        img = img * (1 - ident.folds * c.stroke(_fold_curve(ident, s), 1.2, 0.8))

    # facial hair: stubble shadow, mustache, beard
    lower_face = face * (c.y > ident.nose_y + 1).astype(np.float32)
    lips = np.clip(upper + lower, 0, 1)
    if ident.stubble > 0:
        fine = np.clip(_band_noise(rng, size, 0.35 * c.unit), -2, 2)
        img = img * (1 - ident.stubble * 0.28 * c.soften(lower_face, 1.5) * (0.8 + 0.2 * fine) * (1 - lips))
    hair_tex = 1 + 0.2 * _band_noise(rng, size, 0.4 * c.unit)
    if ident.mustache > 0:
        u = np.linspace(-1.08, 1.08, 25)
        mx = cx + ident.mouth_hw * u
        lip_top = ident.mouth_y - ident.mouth_curve * u**2 - ident.lip_up * np.sqrt(np.clip(1 - u**2, 0, 1)) + 0.3
        top = np.minimum(ident.nose_y + 2.6 + 2.0 * u**2, lip_top - 0.8)
        must = c.poly(np.concatenate([np.stack([mx, lip_top], 1), np.stack([mx, top], 1)[::-1]]))
        img = _blend(img, c.soften(must, 0.4), ident.hair_tone * hair_tex, ident.mustache * 0.85)
    if ident.beard > 0:
        jaw_band = face * (c.y > ident.mouth_y - 3).astype(np.float32)
        cheek_side = face * (np.abs(c.x - cx) > ident.face_hw * 0.72) * (c.y > ident.eye_y + 12)
        beard = np.clip(jaw_band + cheek_side, 0, 1) * (1 - lips)
        img = _blend(img, c.soften(beard, 1.0), ident.hair_tone * hair_tex, ident.beard * 0.8)
    return np.clip(img, 0, 1), fg


def _normals(c: Canvas, ident: Identity) -> np.ndarray:
    cx = ident.face_cx
    rx = (c.x - cx) / ident.face_hw
    ry = (c.y - ident.face_cy) / ident.face_hh
    inside = np.clip(1 - rx**2 - ry**2, 0, None)
    z = 0.55 * ident.face_hh * np.sqrt(inside)
    ridge = np.clip((c.y - (ident.eye_y - 3)) / (ident.nose_y - ident.eye_y + 3), 0, 1)
    z += 7.0 * ridge * np.exp(-0.5 * ((c.x - cx) / (ident.nose_hw * 0.45)) ** 2) * (c.y < ident.nose_y + 2.5)
    z += 3.0 * c.blob(cx, ident.nose_y, ident.nose_hw * 0.6, 2.2)
    z += 2.0 * (
        c.blob(cx - ident.eye_dx, ident.brow_y - 1, 7, 2.5) + c.blob(cx + ident.eye_dx, ident.brow_y - 1, 7, 2.5)
    )
    z += 2.5 * (
        c.blob(cx - ident.eye_dx - 2, ident.eye_y + 11, 6, 5) + c.blob(cx + ident.eye_dx + 2, ident.eye_y + 11, 6, 5)
    )
    z -= 2.0 * (c.blob(cx - ident.eye_dx, ident.eye_y, 6, 3.5) + c.blob(cx + ident.eye_dx, ident.eye_y, 6, 3.5))
    z += 2.0 * c.blob(cx, ident.face_cy + ident.face_hh * 0.82, 6, 3)
    z = cv2.GaussianBlur(z.astype(np.float32), (0, 0), 0.8 * c.unit)
    gy, gx = np.gradient(z * c.unit)  # per pixel, heights in pixels
    n = np.stack([-gx, -gy, np.ones_like(z)])
    return (n / np.linalg.norm(n, axis=0, keepdims=True)).astype(np.float32)


def _handles(ident: Identity) -> dict[int, list[tuple[float, float, float, float, float, float]]]:
    """Per AU: (cx, cy, sigma_x, sigma_y, dx, dy) Gaussian displacement handles, per unit intensity, both sides."""
    cx, ey, by, eh = ident.face_cx, ident.eye_y, ident.brow_y, ident.eye_hh
    my, mw, edx, ew = ident.mouth_y, ident.mouth_hw, ident.eye_dx, ident.eye_hw
    corner_y = my - ident.mouth_curve
    h: dict[int, list] = {au: [] for au in AUS}
    for s in (-1, 1):
        h[1] += [(cx + s * (edx - 0.6 * ew), by - 1, 5.5, 6.5, 0.0, -1.35)]
        h[2] += [(cx + s * (edx + 1.1 * ew), by - 1, 5.5, 6.5, 0.0, -1.3)]
        h[4] += [(cx + s * (edx - 0.5 * ew), by, 6.5, 5.5, -s * 0.55, 0.9),
                 (cx + s * (edx + 0.6 * ew), by, 6, 5, -s * 0.15, 0.55)]
        h[6] += [
            (cx + s * (edx + 1), ey + 11, 8, 6.5, 0.0, -0.8),
            (cx + s * edx, ey + 0.9 * eh + 1, 6, 2.5, 0.0, -0.45),
        ]
        h[7] += [(cx + s * edx, ey + 0.8 * eh + 0.5, 6, 2.2, 0.0, -0.55), (cx + s * edx, ey - eh, 6, 2.2, 0.0, 0.25)]
        h[10] += [(cx + s * mw * 0.55, my - ident.lip_up, 5, 3.5, 0.0, -0.7),
                  (cx + s * (ident.nose_hw + 1), ident.nose_y, 3.5, 3, 0, -0.3)]
        h[12] += [
            (cx + s * mw, corner_y, 5.5, 4.5, s * 0.7, -1.0),
            (cx + s * (mw + 4), corner_y - 8, 7, 6, s * 0.2, -0.4),
        ]
        h[14] += [(cx + s * mw, corner_y, 4, 3.5, -s * 0.65, -0.2)]
        h[15] += [(cx + s * mw, corner_y, 5, 4.5, s * 0.2, 1.0)]
        h[23] += [(cx + s * mw, corner_y, 3.5, 3, -s * 0.35, 0.0)]
    h[10] += [(cx, my - ident.lip_up, 9, 3.5, 0.0, -0.9)]
    h[17] += [(cx, my + ident.lip_low + 8, 10, 5.5, 0.0, -0.9), (cx, my + ident.lip_low, 8, 2.8, 0.0, -0.55)]
    h[23] += [(cx, my - ident.lip_up * 0.6, 9, 2.2, 0.0, 0.4), (cx, my + ident.lip_low * 0.6, 9, 2.2, 0.0, -0.45)]
    h[24] += [(cx, my - ident.lip_up * 0.5, 10, 2.8, 0.0, 0.5), (cx, my + ident.lip_low * 0.6, 10, 2.8, 0.0, -0.6)]
    return h


def _arc(x0: float, x1: float, y: float, bend: float, n: int = 13) -> np.ndarray:
    p = np.linspace(0, 1, n)
    return np.stack([x0 + (x1 - x0) * p, y - bend * np.sin(np.pi * p)], 1)


def _wrinkles(c: Canvas, ident: Identity, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Per AU: a darkening map (per unit intensity) of the folds and furrows it creates."""
    cx, ey, by, eh = ident.face_cx, ident.eye_y, ident.brow_y, ident.eye_hh
    my, mw, edx, ew = ident.mouth_y, ident.mouth_hw, ident.eye_dx, ident.eye_hw
    corner_y = my - ident.mouth_curve
    out = {}
    out[1] = 0.035 * sum(c.stroke(_arc(cx - 11, cx + 11, by - 7 - 4.5 * k, 1.5), 0.8, 0.35) for k in range(3))
    out[2] = 0.035 * sum(c.stroke(_arc(cx + s * (edx - 3), cx + s * (edx + ew + 4), by - 7 - 4.5 * k, 1.5), 0.8, 0.35)
                         for s in (-1, 1) for k in range(2))
    glabella = sum(c.stroke(np.array([[cx + s * 2.4, by - 5], [cx + s * 1.8, by + 3]]), 0.8, 0.3) for s in (-1, 1))
    out[4] = 0.07 * glabella + 0.03 * c.stroke(_arc(cx - 3, cx + 3, ey - 2, -0.5, 5), 0.7, 0.3)
    crows = 0
    for s in (-1, 1):
        ox = cx + s * (edx + ew + 1.5)
        for ang in (-0.45, 0.0, 0.45):
            crows = crows + c.stroke(np.array([[ox, ey], [ox + s * 5 * np.cos(ang), ey + 5 * np.sin(ang)]]), 0.7, 0.3)
    bags = sum(c.stroke(_arc(cx + s * (edx - ew), cx + s * (edx + ew), ey + eh + 3, -1.2), 0.8, 0.4) for s in (-1, 1))
    cheeks = sum(c.blob(cx + s * (edx + 2), ey + 12, 5, 4) for s in (-1, 1))
    out[6] = 0.055 * crows + 0.03 * bags - 0.02 * cheeks
    out[7] = 0.045 * sum(
        c.stroke(_arc(cx + s * (edx - ew), cx + s * (edx + ew), ey + eh + 1.2, -1.0), 0.7, 0.3) for s in (-1, 1)
    )
    folds_upper = sum(c.stroke(_fold_curve(ident, s, 0.6), 1.1, 0.6) for s in (-1, 1))
    folds_full = sum(c.stroke(_fold_curve(ident, s, 1.0), 1.2, 0.7) for s in (-1, 1))
    centre_line = c.stroke(mouth_line(ident, extend=0.6), 1.0, 0.4)
    out[10] = 0.06 * folds_upper + 0.04 * centre_line
    out[12] = 0.05 * folds_full - 0.018 * sum(c.blob(cx + s * (mw + 5), corner_y - 7, 5, 4) for s in (-1, 1))
    out[14] = 0.08 * sum(c.soften(c.ellipse(cx + s * (mw + 2.5), corner_y, 1.0, 1.8), 0.5) for s in (-1, 1))
    out[15] = 0.05 * sum(
        c.stroke(np.array([[cx + s * (mw + 0.5), corner_y + 1], [cx + s * (mw + 2.5), corner_y + 7]]), 0.9, 0.45)
        for s in (-1, 1)
    )
    chin_y = my + ident.lip_low + 8
    dimpling = np.clip(_band_noise(rng, c.size, 0.6 * c.unit), 0, None) * c.blob(cx, chin_y, 7, 4)
    out[17] = 0.05 * c.stroke(_arc(cx - 7, cx + 7, my + ident.lip_low + 2.5, -1.0), 1.0, 0.5) + 0.05 * dimpling
    upper, lower = _lips(c, ident)
    lips = c.soften(np.clip(upper + lower, 0, 1), 0.3)
    corners = sum(c.blob(cx + s * mw, corner_y, 1.5, 1.5) for s in (-1, 1))
    out[23] = -0.035 * lips + 0.04 * corners
    bulges = c.stroke(_arc(cx - 8, cx + 8, my - ident.lip_up - 2.5, 0.8), 1.0, 0.6) + c.stroke(
        _arc(cx - 8, cx + 8, my + ident.lip_low + 2.0, -0.8), 1.0, 0.6)
    out[24] = 0.035 * bulges - 0.025 * lips
    return out


def build_face_model(ident: Identity, size: int = 128) -> FaceModel:
    """Render an identity's neutral face and its AU bases at `size` x `size` pixels."""
    c = Canvas(size)
    rng = np.random.default_rng(ident.texture_seed)
    albedo, fg = _albedo(c, ident, rng)
    normals = _normals(c, ident)
    handles = _handles(ident)
    wrinkles = _wrinkles(c, ident, rng)
    k = len(AUS)
    disp = np.zeros((k, 2, size, size), np.float32)
    shade = np.zeros((k, size, size), np.float32)
    for i, au in enumerate(AUS):
        for hx, hy, sx, sy, dx, dy in handles[au]:
            g = c.blob(hx, hy, sx, sy)
            disp[i, 0] += dx * g
            disp[i, 1] += dy * g
        disp[i] *= DISPLACEMENT_GAIN * c.unit * ident.au_visibility[i]
        shade[i] = SHADING_GAIN * wrinkles[au] * ident.au_visibility[i]
    return FaceModel(albedo=albedo, fg=fg, normals=normals, disp=disp, shade=shade)


def region_pixels(ident: Identity, region: str, size: int = 128) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) of one of the identity's facial regions in a size x size crop."""
    c = Canvas(size)
    x0, y0, x1, y1 = ident.region_box(region)
    (px0, px1), (py0, py1) = c.to_pixels(np.array([x0, x1]), np.array([y0, y1]))
    clip = lambda v: int(np.clip(round(float(v)), 0, size))  # noqa: E731
    return clip(px0), clip(py0), clip(px1), clip(py1)

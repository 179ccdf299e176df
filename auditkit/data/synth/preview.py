"""Contact sheet of synthetic subjects at neutral and at each AU, so a person can judge the faces at a glance."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from auditkit.data.synth.aus import AUS
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.identity import Identity
from auditkit.data.synth.render import FaceRenderer

HEADER = 18


def _label(width: int, text: str) -> np.ndarray:
    tile = np.full((HEADER, width), 255, np.uint8)
    cv2.putText(tile, text, (3, HEADER - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1, cv2.LINE_AA)
    return tile


def contact_sheet(identities: list[Identity], intensity: float = 4.0, size: int = 128) -> np.ndarray:
    """Grid image: one row per identity, columns neutral then each AU at `intensity`."""
    k = len(AUS)
    codes = np.zeros((k + 1, k), np.float32)
    codes[np.arange(1, k + 1), np.arange(k)] = intensity
    header = np.concatenate([_label(size, "neutral")] + [_label(size, f"AU{au:02d}") for au in AUS], axis=1)
    left = 96
    rows = [np.concatenate([np.full((HEADER, left), 255, np.uint8), header], axis=1)]
    for ident in identities:
        frames = FaceRenderer(ident, CAPTURES[ident.dataset], size).render(codes)
        tag = np.full((size, left), 255, np.uint8)
        for j, text in enumerate(
            (ident.subject, ident.dataset.split("-")[0], ident.gender, f"type {ident.fitzpatrick}")
        ):
            cv2.putText(tag, text, (4, 20 + 18 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.42, 0, 1, cv2.LINE_AA)
        rows.append(np.concatenate([tag] + list(frames), axis=1))
    return np.concatenate(rows, axis=0)


def pick_varied(identities: list[Identity], n: int = 8) -> list[Identity]:
    """Up to n identities spread over skin type, source and gender (round-robin over skin-type bins)."""
    bins: dict[int, list[Identity]] = {}
    seen: set[tuple] = set()
    for ident in sorted(identities, key=lambda i: i.subject):
        key = (ident.dataset, ident.gender, (ident.fitzpatrick - 1) // 2)
        if key not in seen:
            seen.add(key)
            bins.setdefault(key[2], []).append(ident)
    chosen: list[Identity] = []
    while len(chosen) < n and any(bins.values()):
        for b in sorted(bins):
            if bins[b] and len(chosen) < n:
                chosen.append(bins[b].pop(0))
    return sorted(chosen, key=lambda i: (i.dataset, i.fitzpatrick, i.subject))


def write_contact_sheet(identities: list[Identity], path: str | Path, n: int = 8) -> Path:
    """Render a contact sheet of up to n varied identities to a PNG file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet = contact_sheet(pick_varied(identities, n))
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"could not write {path}")
    return path

"""Synthetic subjects written in BP4D-Spontaneous's and DISFA's distributed layouts, to exercise the ingesters.

Neither dataset may be redistributed, so tests, benchmarks and first-time users get look-alike trees: the same folder
names, file names and label formats as the licensed copies, with rendered faces placed in full camera frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from auditkit.data.synth.aus import AUS
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.expression import TASKS, intensity_labels, sample_intensities, sample_light, sample_pose
from auditkit.data.synth.generate import SynthConfig, make_identities
from auditkit.data.synth.identity import Identity
from auditkit.data.synth.render import FaceRenderer

# The AU numbers each dataset's label files carry (BP4D's occurrence header and DISFA's twelve label files).
BP4D_OCC_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
BP4D_INT_AUS: tuple[int, ...] = (6, 10, 12, 14, 17)
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
BP4D_TASKS: tuple[str, ...] = ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8")


@dataclass(frozen=True)
class TreeConfig:
    """Size of a look-alike tree: subjects, frames, camera frame size and face size in pixels."""

    subjects: int = 2
    frames: int = 12  # BP4D: coded frames per task; DISFA: frames per video
    tasks: int = 2  # BP4D tasks per subject (T1...)
    width: int = 640
    height: int = 480
    face: int = 200
    unlabelled: int = 2  # BP4D: images before the coded segment, as in the real data where only a segment is coded
    seed: int = 0
    jpeg_quality: int = 90


def _scene(face: np.ndarray, cfg: TreeConfig, rng: np.random.Generator) -> np.ndarray:
    """A BGR camera frame with the face pasted on a noisy background at a jittered position."""
    bg = rng.normal(110, 12, (cfg.height, cfg.width)).astype(np.float32)
    bg = cv2.GaussianBlur(bg, (0, 0), 3)
    y0 = (cfg.height - cfg.face) // 2 + int(rng.integers(-10, 11))
    x0 = (cfg.width - cfg.face) // 2 + int(rng.integers(-20, 21))
    bg[y0 : y0 + cfg.face, x0 : x0 + cfg.face] = face
    gray = np.clip(bg, 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def _frames(ident: Identity, source: str, task: str, n: int, cfg: TreeConfig, rng: np.random.Generator,
            renderer: FaceRenderer) -> tuple[np.ndarray, list[np.ndarray]]:
    x = sample_intensities(rng, ident, TASKS[source][task], n)
    faces = renderer.render(x, sample_pose(rng, n, CAPTURES[source].pose_sd), sample_light(rng, n), rng)
    return intensity_labels(x), [_scene(f, cfg, rng) for f in faces]


def _level(levels: np.ndarray, au: int) -> np.ndarray:
    # AUs the renderer does not animate (e.g. DISFA's AU05) are written as absent
    return levels[:, AUS.index(au)] if au in AUS else np.zeros(len(levels), np.int8)


def _people(cfg: TreeConfig, source: str) -> list[Identity]:
    synth = SynthConfig(seed=cfg.seed, bp4d_subjects=cfg.subjects if source == "bp4d-synth" else 0,
                        disfa_subjects=cfg.subjects if source == "disfa-synth" else 0)
    return make_identities(synth)


def demographics_table(identities: list[Identity]) -> pd.DataFrame:
    """The demographics file a licensee would write by hand: subject, gender, fitzpatrick, age."""
    return pd.DataFrame({
        "subject": [i.subject for i in identities],
        "gender": [i.gender for i in identities],
        "fitzpatrick": [i.fitzpatrick for i in identities],
        "age": [i.age for i in identities],
    })


def write_bp4d_tree(root: str | Path, cfg: TreeConfig = TreeConfig()) -> pd.DataFrame:
    """Write Sequences/<subject>/<task>/<frame>.jpg and AUCoding/AU_OCC, AU_INT files; return the demographics."""
    root = Path(root)
    people = _people(cfg, "bp4d-synth")
    occ_dir = root / "AUCoding" / "AU_OCC"
    occ_dir.mkdir(parents=True, exist_ok=True)
    for index, ident in enumerate(people):
        renderer = FaceRenderer(ident, CAPTURES["bp4d-synth"], cfg.face)
        for t, task in enumerate(BP4D_TASKS[: cfg.tasks]):
            rng = np.random.default_rng([cfg.seed, 11, index, t])
            levels, scenes = _frames(ident, "bp4d-synth", list(TASKS["bp4d-synth"])[t % 8], cfg.frames + cfg.unlabelled,
                                     cfg, rng, renderer)
            img_dir = root / "Sequences" / ident.subject / task
            img_dir.mkdir(parents=True, exist_ok=True)
            for k, scene in enumerate(scenes):
                cv2.imwrite(str(img_dir / f"{k + 1:04d}.jpg"), scene, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
            coded = np.arange(cfg.unlabelled, cfg.unlabelled + cfg.frames)
            frames = coded + 1
            uncoded = np.zeros(len(coded), bool)
            if cfg.frames >= 6:
                uncoded[-2:] = True  # BP4D writes 9 where coders skipped frames
            occ = pd.DataFrame({"0": frames})
            for au in BP4D_OCC_AUS:
                occ[str(au)] = np.where(uncoded, 9, (_level(levels[coded], au) >= 1).astype(int))
            occ.to_csv(occ_dir / f"{ident.subject}_{task}.csv", index=False)
            for au in BP4D_INT_AUS:
                int_dir = root / "AUCoding" / "AU_INT" / f"AU{au:02d}"
                int_dir.mkdir(parents=True, exist_ok=True)
                vals = np.where(uncoded, 9, _level(levels[coded], au))
                pd.DataFrame({"frame": frames, "intensity": vals}).to_csv(
                    int_dir / f"{ident.subject}_{task}_AU{au:02d}.csv", index=False, header=False)
    return demographics_table(people)


def write_disfa_tree(root: str | Path, cfg: TreeConfig = TreeConfig(), right: bool = False) -> pd.DataFrame:
    """Write ActionUnit_Labels/<SN>/<SN>_au<k>.txt and Videos_LeftCamera/LeftVideo<SN>_comp.avi; return demographics."""
    root = Path(root)
    people = _people(cfg, "disfa-synth")
    rows = []
    for index, ident in enumerate(people):
        sn = f"SN{index + 1:03d}"
        rows.append(sn)
        rng = np.random.default_rng([cfg.seed, 12, index])
        renderer = FaceRenderer(ident, CAPTURES["disfa-synth"], cfg.face)
        levels, scenes = _frames(ident, "disfa-synth", "clip1", cfg.frames, cfg, rng, renderer)
        cams = [("Left", "Videos_LeftCamera")] + ([("Right", "Videos_RightCamera")] if right else [])
        for side, folder in cams:
            (root / folder).mkdir(parents=True, exist_ok=True)
            path = root / folder / f"{side}Video{sn}_comp.avi"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20, (cfg.width, cfg.height), True)
            for scene in scenes:
                writer.write(scene)
            writer.release()
        lab_dir = root / "ActionUnit_Labels" / sn
        lab_dir.mkdir(parents=True, exist_ok=True)
        for au in DISFA_AUS:
            lines = [f"{k + 1},{int(v)}" for k, v in enumerate(_level(levels, au))]
            (lab_dir / f"{sn}_au{au}.txt").write_text("\n".join(lines) + "\n")
    demo = demographics_table(people)
    demo["subject"] = rows
    return demo

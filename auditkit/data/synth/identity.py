"""Per-subject appearance and expressiveness, and the demographic roster of each synthetic source."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from auditkit.data.synth.aus import AUS

# Skin albedo (grayscale reflectance) per Fitzpatrick type: the main identity cue histogram equalization fights.
SKIN_ALBEDO = {1: 0.84, 2: 0.76, 3: 0.66, 4: 0.56, 5: 0.43, 6: 0.31}


@dataclass(frozen=True)
class Identity:
    """Everything that fixes how one synthetic person looks and emotes (geometry in 128-px canvas units)."""

    subject: str
    dataset: str
    gender: str
    fitzpatrick: int
    age: int
    skin: float
    texture: float
    freckles: float
    face_cx: float
    face_cy: float
    face_hw: float
    face_hh: float
    jaw: float
    eye_y: float
    eye_dx: float
    eye_hw: float
    eye_hh: float
    brow_gap: float
    brow_thick: float
    brow_dark: float
    brow_arch: float
    brow_slant: float
    nose_y: float
    nose_hw: float
    mouth_y: float
    mouth_hw: float
    lip_up: float
    lip_low: float
    lip_tone: float
    mouth_curve: float
    hairline: float
    hair_tone: float
    hair_side: float
    widow: float
    beard: float
    mustache: float
    stubble: float
    folds: float
    texture_seed: int
    expressiveness: float
    au_rate: tuple[float, ...]
    au_gain: tuple[float, ...]
    au_visibility: tuple[float, ...]

    def to_row(self) -> dict:
        """A flat dict for a Parquet row (per-AU tuples become lists)."""
        row = asdict(self)
        for key in ("au_rate", "au_gain", "au_visibility"):
            row[key] = list(row[key])
        return row

    @classmethod
    def from_row(cls, row: dict) -> Identity:
        """Inverse of to_row."""
        kwargs = {}
        for f in fields(cls):
            value = row[f.name]
            if f.name in ("au_rate", "au_gain", "au_visibility"):
                value = tuple(float(v) for v in value)
            elif f.type in ("int",):
                value = int(value)
            elif f.type in ("float",):
                value = float(value)
            else:
                value = str(value) if f.type == "str" else value
            kwargs[f.name] = value
        return cls(**kwargs)

    @property
    def brow_y(self) -> float:
        """Canvas y of the brows' lower edge at rest."""
        return self.eye_y - self.brow_gap

    def region_box(self, region: str) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) canvas box of a facial region, used to check that AUs act locally."""
        cx = self.face_cx
        if region == "brows":
            return (
                cx - self.eye_dx - 2.2 * self.eye_hw,
                self.brow_y - 24,
                cx + self.eye_dx + 2.2 * self.eye_hw,
                self.eye_y - 1,
            )
        if region == "eyes_cheeks":
            return (
                cx - self.eye_dx - 2.4 * self.eye_hw,
                self.eye_y - 2.5 * self.eye_hh,
                cx + self.eye_dx + 2.4 * self.eye_hw,
                self.nose_y + 4,
            )
        if region == "mouth":
            return (cx - self.mouth_hw - 14, self.nose_y - 2, cx + self.mouth_hw + 14, self.face_cy + self.face_hh + 2)
        raise ValueError(f"unknown region {region!r}")


def _n(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    return float(np.clip(rng.normal(mean, sd), lo, hi))


def sample_identity(
    rng: np.random.Generator, subject: str, dataset: str, gender: str, fitzpatrick: int, age: int
) -> Identity:
    """Draw one person's face: geometry by individual and (in distribution) by gender, albedo by skin type."""
    male = gender == "male"
    fitz = int(fitzpatrick)
    skin = _n(rng, SKIN_ALBEDO[fitz], 0.025, 0.2, 0.92)
    light_skin = fitz <= 2
    face_hw = _n(rng, 37.5 + (1.8 if male else 0.0), 1.8, 32, 44)
    face_hh = _n(rng, 49.0 + (1.5 if male else 0.0), 2.0, 43, 55)
    eye_y = _n(rng, 55.0, 1.6, 50, 60)
    # Low-set brows mimic AU04 and upturned/downturned mouths mimic AU12/AU15 at rest, as in real people.
    brow_gap = _n(rng, 11.5 - (1.0 if male else 0.0), 1.9, 6.5, 16)
    mouth_curve = float(np.clip(rng.normal(0.2, 1.1) + (2.0 if rng.random() < 0.12 else 0.0)
                                - (1.8 if rng.random() < 0.1 else 0.0), -3.0, 3.5))
    hair_light = light_skin and rng.random() < 0.4
    bald = male and rng.random() < 0.15
    facial_hair = male and age > 19
    beard = float(rng.uniform(0.5, 1.0)) if facial_hair and rng.random() < 0.25 else 0.0
    mustache = float(rng.uniform(0.5, 1.0)) if facial_hair and (beard > 0 or rng.random() < 0.15) else 0.0
    stubble = float(rng.uniform(0.15, 0.6)) if male and rng.random() < 0.5 else 0.0
    k = len(AUS)
    return Identity(
        subject=subject,
        dataset=dataset,
        gender=gender,
        fitzpatrick=fitz,
        age=int(age),
        skin=skin,
        texture=_n(rng, 0.05 + 0.0015 * (age - 20), 0.015, 0.02, 0.12),
        freckles=float(rng.uniform(0.3, 1.0)) if light_skin and rng.random() < 0.35 else 0.0,
        face_cx=_n(rng, 64.0, 0.8, 61, 67),
        face_cy=_n(rng, 64.0, 1.2, 60, 68),
        face_hw=face_hw,
        face_hh=face_hh,
        jaw=_n(rng, 0.80 + (0.06 if male else 0.0), 0.04, 0.66, 0.95),
        eye_y=eye_y,
        eye_dx=_n(rng, 15.0, 1.1, 12, 18.5),
        eye_hw=_n(rng, 6.8, 0.55, 5.3, 8.5),
        eye_hh=_n(rng, 2.9 + (0.2 if not male else 0.0), 0.35, 2.0, 4.0),
        brow_gap=brow_gap,
        brow_thick=_n(rng, 3.1 if male else 2.2, 0.5, 1.3, 4.5),
        brow_dark=_n(rng, 0.75 if not hair_light else 0.45, 0.1, 0.3, 0.95),
        brow_arch=_n(rng, 1.5 if male else 2.6, 0.8, 0.0, 4.5),
        brow_slant=_n(rng, 0.0, 1.3, -3.0, 3.0),
        nose_y=_n(rng, eye_y + 21.0, 1.6, eye_y + 16, eye_y + 26),
        nose_hw=_n(rng, 6.8 + (0.6 if male else 0.0) + (0.5 if fitz >= 5 else 0.0), 0.7, 5.0, 9.5),
        mouth_y=_n(rng, eye_y + 35.5, 1.8, eye_y + 30, eye_y + 41),
        mouth_hw=_n(rng, 12.5, 1.3, 9.5, 16),
        lip_up=_n(rng, 2.4 + (0.4 if not male else 0.0) + (0.4 if fitz >= 5 else 0.0), 0.45, 1.3, 4.0),
        lip_low=_n(rng, 3.2 + (0.4 if not male else 0.0) + (0.4 if fitz >= 5 else 0.0), 0.5, 2.0, 5.0),
        lip_tone=_n(rng, 0.78 if light_skin else 0.85, 0.05, 0.6, 0.95),
        mouth_curve=mouth_curve,
        hairline=_n(rng, 24.0 - (5.0 if bald else 0.0), 2.5, 12, 30),
        hair_tone=float(rng.uniform(0.5, 0.7)) if hair_light else float(rng.uniform(0.05, 0.22)),
        hair_side=float(rng.uniform(0.0, 0.3)) if male else float(rng.uniform(0.5, 1.0)),
        widow=_n(rng, 0.0, 1.5, -2.0, 3.0),
        beard=beard,
        mustache=mustache,
        stubble=stubble,
        folds=_n(rng, 0.06 + 0.004 * (age - 20), 0.03, 0.0, 0.25),
        texture_seed=int(rng.integers(0, 2**31 - 1)),
        expressiveness=float(np.exp(rng.normal(0.0, 0.35))),
        au_rate=tuple(float(v) for v in np.exp(rng.normal(0.0, 0.5, k))),
        au_gain=tuple(float(v) for v in rng.uniform(0.75, 1.3, k)),
        au_visibility=tuple(float(v) for v in rng.uniform(0.8, 1.2, k)),
    )


@dataclass(frozen=True)
class Person:
    """One roster entry: who a synthetic subject is before their face is drawn."""

    subject: str
    dataset: str
    gender: str
    fitzpatrick: int
    age: int


def _roster(rng: np.random.Generator, dataset: str, prefix_f: str, prefix_m: str, cells: list[tuple[str, int, int]],
            ages: tuple[int, int], width: int) -> list[Person]:
    people = []
    for gender, lo_hi, count in cells:
        for _ in range(count):
            lo, hi = divmod(lo_hi, 10)
            people.append((gender, int(rng.integers(lo, hi + 1))))
    order = rng.permutation(len(people))
    counters = {"female": 0, "male": 0}
    out = []
    for idx in order:
        gender, fitz = people[idx]
        counters[gender] += 1
        prefix = prefix_f if gender == "female" else prefix_m
        sid = f"{prefix}{counters[gender]:0{width}d}"
        out.append(Person(sid, dataset, gender, fitz, int(rng.integers(ages[0], ages[1] + 1))))
    return sorted(out, key=lambda p: p.subject)


def bp4d_roster(rng: np.random.Generator) -> list[Person]:
    """41 subjects, 23 female; 8 lighter (I-II) and 9 darker (V-VI) so the paper's 7/8 survive template removal."""
    # (gender, fitzpatrick range as "lo hi" digits, count): darker skin mostly female, lighter mostly male, as in the
    # paper.
    cells = [
        ("female", 12, 3), ("male", 12, 5), ("female", 56, 7), ("male", 56, 2), ("female", 34, 13),
        ("male", 34, 11),
    ]
    return _roster(rng, "bp4d-synth", "F", "M", cells, (18, 29), 3)


def disfa_roster(rng: np.random.Generator) -> list[Person]:
    """27 subjects, 12 female, wider age range and mostly lighter-to-medium skin, like DISFA."""
    cells = [("female", 12, 4), ("male", 12, 6), ("female", 34, 6), ("male", 34, 7), ("female", 56, 2), ("male", 56, 2)]
    people = _roster(rng, "disfa-synth", "SF", "SM", cells, (18, 50), 3)
    return people

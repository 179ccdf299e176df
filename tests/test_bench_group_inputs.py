"""The per-group input diagnosis: a planted weaker AU signal in one group shows in all three measures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_group_inputs import AUS, markdown, measure, per_au_markdown  # noqa: E402


def _data(strength: dict[str, float], people: int = 4, frames: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, images, group_of = [], [], {}
    yy, xx = np.mgrid[0:64, 0:64]
    blobs = [np.exp(-((xx - 8 - 7 * k) ** 2 + (yy - 32) ** 2) / 20.0) for k in range(len(AUS))]
    for group, gain in strength.items():
        for p in range(people):
            person = f"{group}{p}"
            group_of[person] = group
            for f in range(frames):
                labels = rng.random(len(AUS)) < 0.4
                img = (
                    120
                    + rng.normal(0, 10, (64, 64))
                    + gain * sum(b for b, on in zip(blobs, labels, strict=False) if on)
                )
                images.append(np.clip(img, 0, 255).astype(np.uint8))
                rows.append(
                    {"subject": person, "sequence": f"T{f % 2}", **dict(zip(AUS, labels.astype(int), strict=False))}
                )
    return np.stack(images), pd.DataFrame(rows), group_of


def test_a_weaker_signal_in_one_group_shows_in_every_measure() -> None:
    images, frames, group_of = _data({"lighter": 40.0, "darker": 6.0})
    r = measure(images, frames, group_of)
    assert r["within_person"]["lighter"] > r["within_person"]["darker"] + 0.1
    assert r["cross_person"]["lighter -> lighter"] > r["cross_person"]["darker -> darker"] + 0.1
    assert r["au_contrast"]["lighter"] > 1.5 * r["au_contrast"]["darker"]  # the noise adds to both alike
    table = markdown({"planted": r}, ["darker", "lighter"], "cmd")
    assert "| planted |" in table and "darker → lighter" in table
    # AU by AU too: every AU's blob was planted weaker in the darker group
    assert all(r["per_au"]["lighter"][au] > r["per_au"]["darker"][au] for au in AUS)
    per_au = per_au_markdown({"planted": r}, ["darker", "lighter"])
    assert per_au.startswith("| inputs | AU01 |") and per_au.count("/") == len(AUS)


def test_one_au_planted_weaker_shows_in_that_au_only() -> None:
    images, frames, group_of = _data({"lighter": 30.0, "darker": 30.0}, seed=2)
    # the darker group's AU12 blob is erased: its per-AU probe falls to chance, the others stay
    k = AUS.index("AU12")
    yy, xx = np.mgrid[0:64, 0:64]
    blob = np.exp(-((xx - 8 - 7 * k) ** 2 + (yy - 32) ** 2) / 20.0)
    darker = frames["subject"].str.startswith("darker").to_numpy() & (frames["AU12"].to_numpy() == 1)
    images = images.astype(float)
    images[darker] -= 30.0 * blob
    r = measure(np.clip(images, 0, 255).astype(np.uint8), frames, group_of)
    gap = {au: r["per_au"]["lighter"][au] - r["per_au"]["darker"][au] for au in AUS}
    assert gap["AU12"] > 0.3  # near chance for darker, near 1 for lighter
    assert all(abs(gap[au]) < 0.15 for au in AUS if au != "AU12")  # two test people a group: some noise


def test_equal_groups_measure_alike() -> None:
    images, frames, group_of = _data({"lighter": 25.0, "darker": 25.0}, seed=1)
    r = measure(images, frames, group_of)
    assert abs(r["within_person"]["lighter"] - r["within_person"]["darker"]) < 0.08
    assert abs(r["au_contrast"]["lighter"] - r["au_contrast"]["darker"]) < 0.25 * r["au_contrast"]["lighter"]


def test_person_table_gives_each_group_and_the_difference() -> None:
    from bench_group_inputs import person_markdown

    index = pd.MultiIndex.from_tuples([("deepfn", "within"), ("none", "cross")], names=["normalizer", "condition"])
    table = pd.DataFrame({"darker": [59.5, 46.2], "lighter": [65.4, 54.0]}, index=index)
    table.attrs["subjects"] = {"darker": 9, "lighter": 8}
    text = person_markdown(table)
    assert "| normalizer | models | darker (9 people) | lighter (8 people) | darker − lighter |" in text
    assert "| deepfn | person-dependent | 59.5 | 65.4 | -5.9 |" in text
    assert "| none | person-independent | 46.2 | 54.0 | -7.8 |" in text

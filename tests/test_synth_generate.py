"""The synthetic benchmark: rosters, labels, determinism and its ground truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from auditkit.data import load_dataset
from auditkit.data.synth.generate import SynthConfig, generate, make_identities, split_frames
from auditkit.data.synth.truth import load_truth
from auditkit.errors import AuditkitError, DatasetError
from tests.conftest import TINY


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_roster_matches_paper_group_sizes() -> None:
    ids = make_identities(SynthConfig())
    bp4d = [i for i in ids if i.dataset == "bp4d-synth"]
    disfa = [i for i in ids if i.dataset == "disfa-synth"]
    assert len(bp4d) == 41 and sum(i.gender == "female" for i in bp4d) == 23
    assert len(disfa) == 27 and sum(i.gender == "female" for i in disfa) == 12
    # Table 4 needs 7 lighter and 8 darker subjects after the template is removed.
    assert sum(i.fitzpatrick <= 2 for i in bp4d) >= 8
    assert sum(i.fitzpatrick >= 5 for i in bp4d) >= 9
    assert len({i.subject for i in ids}) == len(ids)
    assert all(1 <= i.fitzpatrick <= 6 for i in ids)


def test_same_seed_gives_identical_bytes(tiny_dataset: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", TINY, n_jobs=2)
    assert _digests(again) == _digests(tiny_dataset)


@pytest.mark.slow
def test_rendering_workers_are_shut_down_before_anything_else_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # left running, their grown memory makes joblib restart them during the audit's trainings, with a warning about
    # a "memory leak" on a user's first run
    import auditkit.data.synth.generate as gen

    shut: list[bool] = []
    monkeypatch.setattr(gen, "shutdown_workers", lambda: shut.append(True))
    generate(tmp_path / "two", TINY, n_jobs=2)
    assert shut == [True]
    generate(tmp_path / "one", TINY, n_jobs=1)  # no pool, nothing to shut down
    assert shut == [True]


def test_other_seed_gives_other_faces(tiny_dataset: Path, tmp_path: Path) -> None:
    other = generate(
        tmp_path / "other", SynthConfig(seed=8, frames_per_subject=24, bp4d_subjects=4, disfa_subjects=2), n_jobs=1
    )
    assert not np.array_equal(np.load(other / "faces.npy"), np.load(tiny_dataset / "faces.npy"))


def test_labels_follow_each_source_coding(tiny_dataset: Path) -> None:
    ds = load_dataset(tiny_dataset)
    assert ds.coded_aus("disfa-synth") == ["AU01", "AU02", "AU04", "AU06", "AU12"]
    assert len(ds.coded_aus("bp4d-synth")) == 12
    truth = load_truth(ds)
    x = truth.intensities(np.arange(len(ds.frames)))
    disfa = ds.frames["subject"].str.startswith("S").to_numpy()
    level = np.clip(np.floor(x[:, 6] + 0.5), 0, 5)  # AU12
    au12 = ds.frames["AU12"].to_numpy()
    coded = au12 >= 0
    # DISFA-like occurrence is intensity >= 2, BP4D-like >= 1 (the paper's conventions)
    np.testing.assert_array_equal(au12[disfa & coded], (level[disfa & coded] >= 2).astype(int))
    np.testing.assert_array_equal(au12[~disfa & coded], (level[~disfa & coded] >= 1).astype(int))
    assert (ds.frames.loc[disfa, "AU10"] == -1).all()


def test_sequences_split_frames() -> None:
    assert split_frames(10, ["a", "b", "c"]) == [4, 3, 3]
    assert sum(split_frames(300, [str(i) for i in range(8)])) == 300


def test_refuses_to_overwrite(tiny_dataset: Path) -> None:
    with pytest.raises(AuditkitError, match="already exists"):
        generate(tiny_dataset, TINY)


def test_truth_rerenders_the_dataset(tiny_dataset: Path) -> None:
    ds = load_dataset(tiny_dataset)
    truth = load_truth(ds)
    subject = ds.subjects["subject"].iloc[1]
    rows = np.flatnonzero(ds.frames["subject"].to_numpy() == subject)[:10]
    # Same identity, same capture, no sensor noise: equal to the stored frames up to the noise.
    clean = truth.render(rows, on=subject).astype(float)
    stored = ds.faces[ds.frames["face"].to_numpy()[rows]].astype(float)
    assert np.abs(clean - stored).mean() < 3.0
    # On another identity (the normalizer's ideal answer) the picture changes.
    template = ds.subjects["subject"].iloc[0]
    assert np.abs(truth.render(rows, on=template).astype(float) - stored).mean() > 5.0
    with pytest.raises(DatasetError, match="unknown subject"):
        truth.render(rows, on="nobody")


def test_the_default_dataset_is_rendered_once_into_the_cache(tmp_path, monkeypatch) -> None:
    from auditkit.data.synth import default
    from auditkit.data.synth import generate as gen

    calls = []

    def fake_generate(path, cfg, force=False, progress=None):
        calls.append(path)
        path.mkdir(parents=True)
        (path / "dataset.json").write_text("{}")

    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(gen, "generate", fake_generate)
    assert default.ensure_default_dataset() == tmp_path / "synth-default"
    assert default.ensure_default_dataset() == tmp_path / "synth-default"
    assert calls == [tmp_path / "synth-default"]  # rendered once, found the second time


def test_the_person_split_defaults_to_more_frames_per_person(tmp_path, monkeypatch) -> None:
    from auditkit.cli import _ensure_default_data
    from auditkit.data.synth import default
    from auditkit.data.synth import generate as gen

    made = {}

    def fake_generate(path, cfg, force=False, progress=None):
        made[path.name] = cfg
        path.mkdir(parents=True)
        (path / "dataset.json").write_text("{}")

    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(gen, "generate", fake_generate)
    assert _ensure_default_data(("person",)) == tmp_path / "synth-person"
    assert _ensure_default_data(("gender",)) == tmp_path / "synth-default"
    # an intersection: not the person split
    assert _ensure_default_data(("person", "gender")) == tmp_path / "synth-default"
    person, general = made["synth-person"], made["synth-default"]
    assert (person.frames_per_subject, person.disfa_subjects) == (default.PERSON_FRAMES, 0)
    assert (general.frames_per_subject, general.disfa_subjects) == (300, None)

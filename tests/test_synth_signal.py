"""Both identity and AU effects are in the pixels: a linear probe finds AUs within a person, less so across people."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from auditkit.data import load_dataset
from auditkit.data.synth.generate import SynthConfig, generate


@pytest.fixture(scope="module")
def probe_data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = generate(
        tmp_path_factory.mktemp("probe") / "d",
        SynthConfig(seed=11, frames_per_subject=240, bp4d_subjects=14, disfa_subjects=0),
    )
    ds = load_dataset(root)
    out = {}
    for subject, rows in ds.frames.groupby("subject"):
        faces = np.asarray(ds.faces[rows["face"].to_numpy()])
        x = (
            np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in faces]).reshape(len(faces), -1)
            / 255.0
        )
        out[subject] = (x, rows["AU12"].to_numpy(), rows["sequence"].to_numpy())
    return out


def _probe() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"))


@pytest.mark.slow
def test_au12_probe_within_beats_across(probe_data: dict) -> None:
    usable = [s for s, (_, y, _) in probe_data.items() if 0.08 < (y == 1).sum() / max(1, (y >= 0).sum()) < 0.92]
    assert len(usable) >= 8
    within = []
    for s in usable:
        x, y, seq = probe_data[s]
        keep = y >= 0
        x, y, seq = x[keep], y[keep], seq[keep]
        train = np.isin(seq, np.unique(seq)[::2])  # person-dependent: disjoint sequences, no temporal leakage
        if len(set(y[train])) == 2 and len(set(y[~train])) == 2:
            within.append(balanced_accuracy_score(y[~train], _probe().fit(x[train], y[train]).predict(x[~train])))
    across = []
    for k in range(0, len(usable) - 1, 2):
        test = usable[k : k + 2]
        train = [s for s in usable if s not in test][:6]
        xs = np.concatenate([probe_data[s][0][probe_data[s][1] >= 0] for s in train])
        ys = np.concatenate([probe_data[s][1][probe_data[s][1] >= 0] for s in train])
        model = _probe().fit(xs, ys)
        for s in test:
            x, y, _ = probe_data[s]
            across.append(balanced_accuracy_score(y[y >= 0], model.predict(x[y >= 0])))
    assert np.mean(within) > 0.62, f"within-person AU12 probe only {np.mean(within):.2f}"
    assert np.mean(within) > np.mean(across) + 0.04, f"within {np.mean(within):.2f} vs across {np.mean(across):.2f}"

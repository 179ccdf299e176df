"""How good a normalization is, measured against the synthetic ground truth (the same expression on the template)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.data.dataset import Dataset
from auditkit.data.synth.truth import load_truth
from auditkit.normalizers.histeq import equalize, grey_background


def transfer_error(original: Dataset, normalized: Dataset, template: str, frames_per_subject: int = 20,
                   seed: int = 0, region: str = "image", background: str = "keep") -> pd.DataFrame:
    """Per subject: mean absolute error (grey levels, histogram-equalized) of normalized faces vs the ideal output,
    and of the original faces vs the same ideal (the error with no normalization), on a sample of frames.

    `region`: how the normalizer equalized its faces (histeq.equalize), so the ideal is drawn in the same grey levels;
    `background`: "grey" when it set the background to mid-grey (DeepFN's CPU default), so the ideal's is too.
    """
    truth = load_truth(original)
    rng = np.random.default_rng(seed)
    subject_of = original.frames["subject"].to_numpy()
    source = truth.identities[template].dataset
    rows = []
    for s in original.subjects["subject"]:
        if s == template:
            continue
        idx = np.flatnonzero(subject_of == s)
        pick = np.sort(rng.choice(idx, min(frames_per_subject, len(idx)), replace=False))
        ideal = equalize(truth.render(pick, on=template, capture=source), region).astype(float)
        if background == "grey":
            ideal = grey_background(ideal).astype(float)
        faces = original.frames["face"].to_numpy()[pick]
        norm = np.asarray(normalized.faces[faces]).astype(float)
        orig = equalize(np.asarray(original.faces[faces]), region).astype(float)
        rows.append(
            {"subject": s, "mae_normalized": np.abs(norm - ideal).mean(), "mae_original": np.abs(orig - ideal).mean()}
        )
    return pd.DataFrame(rows)

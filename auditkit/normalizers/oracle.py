"""`oracle`: the perfect normalizer a synthetic dataset makes possible, and so the ceiling every other is measured
by."""

from __future__ import annotations

import numpy as np

from auditkit.contract import Normalizer
from auditkit.data.dataset import Dataset
from auditkit.errors import AuditkitError, DatasetError
from auditkit.normalizers.histeq import equalize

# bump when a change here can change the faces it returns (synthetic rendering included)
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1


class OracleNormalizer(Normalizer):
    """Re-renders each frame's expression and head pose on the template identity under the template's capture.

    Only datasets written by `auditkit synth` know what that face looks like (their `synthetic/` ground truth), so
    this is an instrument for judging normalizers, not a method: on the same audit, `(N - none) / (oracle - none)`
    is the share of the attainable gain that normalizer N reaches. The output is histogram-equalized like DeepFN's
    and resized by the audit like every normalizer's, so the classifier sees the same kind of input.
    """

    name = "oracle"
    ceiling = True  # the report gives every other normalizer's share of this one's gain over `none`

    cache_version = CACHE_VERSION  # part of every cache key and audit identity that holds its output

    def __init__(self, seed: int = 0, progress: object = None) -> None:
        """Takes no settings of its own; `seed` and `progress`, which the runner passes every normalizer, are unused."""
        self.seed = seed
        self.truth = None
        self.template: str | None = None
        self.rows: dict[str, np.ndarray] = {}

    @staticmethod
    def check_dataset(dataset: Dataset) -> None:
        """Refuse, before any work, a dataset without synthetic ground truth (ingested or merged data)."""
        from auditkit.data.synth.truth import load_truth

        try:
            load_truth(dataset)
        except DatasetError as exc:
            raise AuditkitError(f"{dataset.root}: the oracle normalizer needs synthetic ground truth, and this dataset "
                                f"has none usable ({exc.problem}); only `auditkit synth` datasets have it") from None

    def bind(self, dataset: Dataset, template: str | None) -> None:
        """Read the ground truth and note which frames are each subject's; `template` is the identity rendered."""
        from auditkit.data.synth.truth import load_truth

        if template is None:
            raise AuditkitError("oracle: needs a template subject to render every face on")
        self.truth = load_truth(dataset)
        if template not in self.truth.identities:
            raise AuditkitError(f"oracle: template {template!r} has no identity in {dataset.root}/synthetic")
        self.template = template
        subjects = dataset.frames["subject"].to_numpy()
        self.rows = {s: np.flatnonzero(subjects == s) for s in np.unique(subjects)}

    def fitted_settings(self) -> dict:
        """What the report states: the rendered identity and the post-processing."""
        return {"template": self.template, "capture": "template's, noise-free", "output": "histogram-equalized",
                "ground_truth": "synthetic/"}

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> OracleNormalizer:
        """Nothing to learn; checks that `bind` gave the ground truth."""
        if self.truth is None:
            raise AuditkitError("oracle: needs the dataset's ground truth; run it through `auditkit gap`, "
                                "`audit-model` or `normalize` (they bind the dataset before fitting)")
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """The subject's frames re-rendered on the template, histogram-equalized, at the input's size (uint8)."""
        if self.truth is None:
            raise AuditkitError("oracle: transform called before the dataset was bound")
        rows = self.rows.get(subject)
        faces = np.asarray(faces)
        if rows is None or len(rows) != len(faces):
            raise AuditkitError(f"oracle: {subject!r} must be given all {0 if rows is None else len(rows)} of their "
                                f"frames in frames.parquet order (got {len(faces)}): the ground truth is per frame")
        rendered = equalize(self.truth.render(rows, on=self.template))
        if rendered.shape[1:] != faces.shape[1:]:
            import cv2

            h, w = faces.shape[1:]
            rendered = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in rendered])
        return rendered

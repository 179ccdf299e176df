"""Ground truth that only a synthetic dataset has: re-render any frame's expression on any identity."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditkit.data.dataset import Dataset
from auditkit.data.format import TRUTH_DIR, au_name
from auditkit.data.synth.aus import AUS
from auditkit.data.synth.capture import CAPTURES, Capture
from auditkit.data.synth.identity import Identity
from auditkit.data.synth.render import FaceRenderer
from auditkit.data.validate import read_table
from auditkit.errors import DatasetError

TRUE_COLUMNS = [f"{au_name(a)}_true" for a in AUS]


@dataclass(eq=False)
class SyntheticTruth:
    """Identities and per-frame expression parameters (rows aligned with the dataset's frames table)."""

    dataset: Dataset
    identities: dict[str, Identity]
    expressions: pd.DataFrame

    def intensities(self, rows: np.ndarray) -> np.ndarray:
        """Continuous AU intensities (n, K) of frame rows (positions in frames.parquet)."""
        return self.expressions[TRUE_COLUMNS].to_numpy(np.float32)[rows]

    renderers: dict[tuple[str, str], FaceRenderer] = field(default_factory=dict, repr=False)

    def _renderer(self, subject: str, capture: str) -> FaceRenderer:
        # building a face model is the slow part of rendering; re-rendering many frames of one identity reuses it
        key = (subject, capture)
        if key not in self.renderers:
            self.renderers[key] = FaceRenderer(self.identities[subject], CAPTURES[capture], self.dataset.image_size[0])
        return self.renderers[key]

    def render(
        self, rows: np.ndarray, on: str, capture: str | Capture | None = None, keep_pose: bool = True
    ) -> np.ndarray:
        """Frames `rows` re-rendered with subject `on`'s identity, noise-free; the ideal output of a normalizer to
        `on`."""
        if on not in self.identities:
            path = self.dataset.root / TRUTH_DIR / "identities.parquet"
            raise DatasetError(path, "column 'subject'", f"unknown subject {on!r}")
        cap = capture.name if isinstance(capture, Capture) else (capture or self.identities[on].dataset)
        rows = np.asarray(rows)
        pose = self.expressions[["yaw", "pitch", "roll"]].to_numpy()[rows] if keep_pose else None
        return self._renderer(on, cap).render(self.intensities(rows), pose)


def load_truth(dataset: Dataset) -> SyntheticTruth:
    """Open the ground truth of a synthetic dataset; DatasetError if the directory has none."""
    folder = dataset.root / TRUTH_DIR
    if not (folder / "identities.parquet").is_file() or not (folder / "expressions.parquet").is_file():
        raise DatasetError(folder, None, "no synthetic ground truth here (only `auditkit synth` datasets have it)")
    ids = read_table(folder / "identities.parquet")
    expressions = read_table(folder / "expressions.parquet")
    aligned = len(expressions) == len(dataset.frames) and \
        (expressions["subject"].to_numpy() == dataset.frames["subject"].to_numpy()).all()
    if not aligned:
        raise DatasetError(folder / "expressions.parquet", None, "rows do not line up with frames.parquet")
    identities = {row["subject"]: Identity.from_row(row) for row in ids.to_dict("records")}
    return SyntheticTruth(dataset=dataset, identities=identities, expressions=expressions)

"""The template person DeepFN normalizes everyone onto: a property of the dataset, so it lives with the data."""

from __future__ import annotations

import pandas as pd

from auditkit.data.dataset import Dataset
from auditkit.errors import AuditkitError


def select_template(ds: Dataset, candidates: list[str] | None = None) -> str:
    """The most expressive subject (section 3.2): highest median count of active AUs per frame."""
    frames = ds.frames if candidates is None else ds.frames[ds.frames["subject"].isin(candidates)]
    if frames.empty:
        raise AuditkitError("template: no subjects to choose from")
    active = (frames[ds.aus].to_numpy() == 1).sum(axis=1)
    stats = pd.DataFrame({"subject": frames["subject"].to_numpy(), "active": active}).groupby("subject")["active"]
    table = pd.DataFrame({"median": stats.median(), "mean": stats.mean()})
    table = table.sort_values(["median", "mean"], ascending=False, kind="stable")
    return str(table.index[0])

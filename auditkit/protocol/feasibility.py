"""Whether the default protocol can run on each attribute of a dataset, and if not, why (for `auditkit inspect`)."""

from __future__ import annotations

import pandas as pd

from auditkit.data.dataset import Dataset
from auditkit.errors import AuditkitError
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.plan import make_plan

STANDARD = ("person", "gender", "fitzpatrick", "dataset")  # the paper's four splits


def feasibility(ds: Dataset, preset: str = "default") -> pd.DataFrame:
    """Per attribute (the paper's four splits): can the preset's protocol run (train/val/test subjects per group),
    its groups with subject counts, or the one-line reason it cannot."""
    rows = []
    for attr in STANDARD:
        if attr != "person" and attr not in ds.subjects.columns:
            rows.append({"attr": attr, "runs": False, "groups": "",
                         "why": f"no '{attr}' column in subjects.parquet"})
            continue
        if attr not in ("person", "dataset") and ds.subjects[attr].dropna().nunique() < 2:
            values = ds.subjects[attr].dropna().unique()
            why = (f"every subject has the same {attr} ({values[0]!r})" if len(values)
                   else f"no subject has a {attr} value")
            rows.append({"attr": attr, "runs": False, "groups": "", "why": why})
            continue
        try:
            plan = make_plan(AuditConfig.from_preset(preset, data=str(ds.root), attr=(attr,)), ds)
        except AuditkitError as exc:
            rows.append({"attr": attr, "runs": False, "groups": "", "why": str(exc)})
            continue
        groups = ", ".join(f"{p.name} ({len(p.subjects)})" for p in plan.pools)
        rows.append({"attr": attr, "runs": True, "groups": groups, "why": ""})
    return pd.DataFrame(rows, columns=["attr", "runs", "groups", "why"])

"""Group pools per attribute (person, gender, skin type, dataset, any subject column) and the template subject."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditkit.data.dataset import Dataset
from auditkit.data.format import SUBJECTS_FILE
from auditkit.errors import AuditkitError, DatasetError

SPECIAL = ("person", "dataset")
# The paper's skin-type split: lighter (I-II) against darker (V-VI); types III-IV are left out to amplify differences.
DEFAULT_BINS: dict[str, list[tuple[float, float, str]]] = {"fitzpatrick": [(1, 2, "lighter"), (5, 6, "darker")]}


@dataclass(frozen=True)
class Pool:
    """A named group of subjects that training and test subjects are drawn from."""

    name: str
    subjects: tuple[str, ...]


def parse_bins(text: str) -> list[tuple[float, float, str]]:
    """'1-2,3-4,5-6' -> [(1, 2, '1-2'), ...]; a bin may be named: 'lighter=1-2,darker=5-6'."""
    bins = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"(?:([\w.+ -]+)=)?\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)", part)
        if not m:
            raise AuditkitError(
                f"--bins: cannot read {part!r} (expected ranges like 1-2,5-6 or lighter=1-2,darker=5-6)"
            )
        lo, hi = float(m.group(2)), float(m.group(3))
        if lo > hi:
            raise AuditkitError(f"--bins: range {part!r} runs backwards")
        name = (m.group(1) or f"{m.group(2)}-{m.group(3)}").strip()
        bins.append((lo, hi, name))
    if not bins:
        raise AuditkitError("--bins: no ranges given")
    ordered = sorted(bins)
    for (_, hi_a, a), (lo_b, hi_b, b) in zip(ordered, ordered[1:], strict=False):
        if lo_b < hi_a:  # a shared end point passes here; attribute_labels refuses it where a subject holds it
            raise AuditkitError(f"--bins: ranges {a} and {b} overlap ({lo_b:g} to {min(hi_a, hi_b):g} would be in "
                                "both); make them disjoint, e.g. 1-2,3-4")
    return bins


def resolve_bins(ds: Dataset, attrs: list[str], text: str | None) -> dict[str, list] | None:
    """Apply --bins to the first numeric attribute of --attr (None when no bins were given)."""
    if not text:
        return None
    numeric = [a for a in attrs if a in ds.subjects.columns and pd.api.types.is_numeric_dtype(ds.subjects[a].dtype)]
    if not numeric:
        raise AuditkitError(f"--bins: none of --attr {','.join(attrs)} is numeric")
    return {numeric[0]: parse_bins(text)}


def attribute_labels(subjects: pd.DataFrame, attr: str, bins: list[tuple[float, float, str]] | None,
                     path: str = SUBJECTS_FILE) -> pd.Series:
    """Group label of each subject for one attribute (NA where the subject falls in no group)."""
    if attr not in subjects.columns:
        usable = ", ".join(["person"] + [c for c in subjects.columns if c != "subject"])
        raise DatasetError(path, f"column '{attr}'", f"unknown attribute (usable: {usable})")
    values = subjects[attr]
    if values.isna().all():
        raise DatasetError(path, f"column '{attr}'", "has no values")
    bins = bins if bins is not None else DEFAULT_BINS.get(attr)
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    if bins is not None:
        if not numeric:
            raise DatasetError(path, f"column '{attr}'", "--bins needs a numeric attribute")
        labels = pd.Series(pd.NA, index=subjects.index, dtype="string")
        v = values.astype("Float64")
        # a loop rather than pd.cut: bins are closed ranges that may leave gaps (1-2,5-6), which pd.cut's
        # intervals cannot express
        for lo, hi, name in bins:
            labels[(v >= lo) & (v <= hi)] = name
        _refuse_shared_values(subjects, attr, v, bins, path)
        return labels
    if numeric and values.dropna().nunique() > 6:
        # a continuous attribute with no bins: split at the median into two halves
        med = float(values.median())
        return pd.Series(np.where(values.isna(), None, np.where(values <= med, f"{attr}<={med:g}", f"{attr}>{med:g}")),
                         index=subjects.index, dtype="string")
    labels = values.astype("string")
    blank = labels.notna() & (labels.str.strip() == "")
    if blank.any():
        who = subjects.loc[blank, "subject"].iloc[0] if "subject" in subjects.columns else blank.idxmax()
        raise DatasetError(path, f"column '{attr}'", f"subject {who!r} has an empty value (leave it missing, NA, "
                           "to keep the subject out of every group, or fill it in)")
    return labels


def _refuse_shared_values(subjects: pd.DataFrame, attr: str, values: pd.Series,
                          bins: list[tuple[float, float, str]], path: str) -> None:
    """Refuse closed ranges that share an end point some subject holds (1-3,3-6 with a type III subject): the
    subject would sit in one group while the other's name says it holds them too."""
    for i, (lo_a, hi_a, a) in enumerate(bins):
        for lo_b, hi_b, b in bins[i + 1:]:
            both = (values >= max(lo_a, lo_b)) & (values <= min(hi_a, hi_b))
            both = both.fillna(False).astype(bool)
            if both.any():
                shared = sorted(float(x) for x in values[both].unique())
                who = subjects.loc[both, "subject"].astype(str).tolist() if "subject" in subjects.columns else []
                example = f", e.g. {who[0]!r}" if who else ""
                x = shared[0]
                hint = (f" (e.g. {lo_a:g}-{x - 1:g},{x:g}-{hi_b:g} or {lo_a:g}-{x:g},{x + 1:g}-{hi_b:g})"
                        if len(shared) == 1 and x.is_integer() and lo_a < x < hi_b else "")
                raise DatasetError(path, f"column '{attr}'",
                                   f"--bins ranges {a} and {b} both hold {', '.join(f'{v:g}' for v in shared)} "
                                   f"({int(both.sum())} subject(s){example}); make them disjoint{hint}")


def build_pools(ds: Dataset, attrs: list[str], subjects: list[str], bins: dict[str, list] | None = None) -> list[Pool]:
    """One pool per value (or combination of values) of the attributes, over the given subjects."""
    table = ds.subjects[ds.subjects["subject"].isin(subjects)].reset_index(drop=True)
    path = str(ds.root / SUBJECTS_FILE)
    if attrs == ["person"]:
        return [Pool("all", tuple(sorted(table["subject"])))]
    if "person" in attrs:
        raise AuditkitError("--attr: 'person' cannot be combined with other attributes")
    labels = [attribute_labels(table, a, (bins or {}).get(a), path) for a in attrs]
    combined = labels[0].copy()
    for extra in labels[1:]:
        combined = combined + " & " + extra
    pools = []
    for name in sorted(combined.dropna().unique()):
        members = tuple(sorted(table.loc[combined == name, "subject"]))
        pools.append(Pool(str(name), members))
    if len(pools) < 2:
        raise AuditkitError(f"--attr {','.join(attrs)}: only {len(pools)} group(s) among the audited subjects; "
                            "a gap needs at least two (check --bins or --source)")
    return pools


def check_pool_sizes(pools: list[Pool], n_train: int, n_val: int) -> None:
    """Every pool must supply train + validation subjects and still leave one to test."""
    need = n_train + n_val + 1
    for pool in pools:
        if len(pool.subjects) < need:
            raise AuditkitError(
                f"pool '{pool.name}' has {len(pool.subjects)} subjects but the protocol needs at least {need} "
                f"({n_train} train + {n_val} validation + 1 test); lower --train/--val or change --bins/--attr")

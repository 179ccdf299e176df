"""The Normalizer interface (DESIGN.md): fit on template and subject faces, transform one subject's faces."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Normalizer(Protocol):
    """fit(template_faces, subject_faces) -> self; transform(subject, faces) -> faces of the same shape (uint8).

    Plugins are constructed with keyword options and must accept (and may ignore) `seed` and `progress`
    (a callable(description, done, total) for long fits). Their settings are their constructor's keywords (an unknown
    one is refused, `plugins.make_normalizer`), and they may offer scikit-learn's `get_params() -> dict`: the settings
    they run with, defaults resolved, which is the one record of them (audit records, cache keys, provenance; read
    through `params_of`). A normalizer that needs more than
    faces (the `oracle` reads the dataset's ground truth) may offer `check_dataset(dataset)` on its class, called
    before any work so an unusable dataset stops the run early, and `bind(dataset, template)`, called before `fit`;
    its `transform` is then given all of a subject's faces in frames.parquet order (read through `prepare`).
    """

    name: str

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> Normalizer:
        """Learn whatever the normalizer needs from the template and the subjects it will transform."""
        ...

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """Normalize one subject's (n, H, W) uint8 faces; same shape and dtype out."""
        ...


BASELINE = "none"  # the faces as they are: every audit runs it, first, so each report shows a normalizer's effect


def with_baseline(normalizers: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The normalizers of an audit: the baseline first, then the others in the order given, each once."""
    return tuple(dict.fromkeys((BASELINE, *normalizers)))


def check_dataset(normalizer_class: object, dataset: object) -> None:
    """Let a normalizer refuse a dataset it cannot work on (AuditkitError), before anything is trained or written."""
    check = getattr(normalizer_class, "check_dataset", None)
    if callable(check):
        check(dataset)


def prepare(normalizer: object, dataset: object, template: str | None) -> None:
    """Give a normalizer that asks for it (`bind`) the dataset and the template subject, before `fit`."""
    bind = getattr(normalizer, "bind", None)
    if callable(bind):
        bind(dataset, template)


def params_of(normalizer: object) -> dict:
    """A normalizer's JSON-ready settings (`get_params()`); {} for plugins that do not describe themselves.

    Plugins written before auditkit took scikit-learn's name offer `settings()` instead; it is read the same way.
    """
    describe = getattr(normalizer, "get_params", None) or getattr(normalizer, "settings", None)
    if not callable(describe):
        return {}
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in describe().items()}

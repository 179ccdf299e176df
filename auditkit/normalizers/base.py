"""Normalizers: the typed base (auditkit.contract.Normalizer: fit on template and subject faces, transform one
subject's faces, and every optional hook) and how the runner reaches a normalizer's optional hooks."""

from __future__ import annotations

from auditkit import contract
from auditkit.contract import BASELINE, Normalizer

__all__ = ["BASELINE", "Normalizer", "check_dataset", "params_of", "prepare", "with_baseline"]


def with_baseline(normalizers: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The normalizers of an audit: the baseline first, then the others in the order given, each once."""
    return tuple(dict.fromkeys((BASELINE, *normalizers)))


def check_dataset(normalizer_class: object, dataset: object) -> None:
    """Let a normalizer refuse a dataset it cannot work on (AuditkitError), before anything is trained or written."""
    contract.call(normalizer_class, "normalizer", "check_dataset", dataset)


def prepare(normalizer: object, dataset: object, template: str | None) -> None:
    """Give a normalizer that asks for it (`bind`) the dataset and the template subject, before `fit`."""
    contract.call(normalizer, "normalizer", "bind", dataset, template)


def params_of(normalizer: object) -> dict:
    """A normalizer's JSON-ready settings as it runs: its `fitted_settings()`."""
    record = contract.settings(normalizer)
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in record.items()}

"""Entry-point registry: auditkit.normalizers / auditkit.classifiers / auditkit.datasets (built-ins register the same way)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from auditkit.errors import AuditkitError

GROUPS = {"normalizer": "auditkit.normalizers", "classifier": "auditkit.classifiers", "dataset": "auditkit.datasets"}


def available(kind: str) -> dict[str, EntryPoint]:
    """Installed plugins of one kind ('normalizer', 'classifier', 'dataset'), by name."""
    return {ep.name: ep for ep in entry_points(group=GROUPS[kind])}


def load(kind: str, name: str) -> Any:
    """The object a plugin's entry point names (a class or factory); a clear error if it is not installed."""
    eps = available(kind)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise AuditkitError(f"unknown {kind} {name!r} (installed: {known}; `auditkit plugins` lists them)")
    try:
        return eps[name].load()
    except Exception as exc:  # a broken third-party package must not take the CLI down with a traceback
        raise AuditkitError(f"{kind} plugin {name!r} ({eps[name].value}) failed to load: {exc}") from None


def make_normalizer(name: str, **options: Any) -> Any:
    """Instantiate a normalizer plugin."""
    return load("normalizer", name)(**options)


def make_classifier(name: str, **options: Any) -> Any:
    """Instantiate a classifier plugin; factories receive seed, threads and training options as keywords."""
    return load("classifier", name)(**options)

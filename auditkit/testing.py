"""What a plugin author runs on their plugin: `check_plugin(MyNormalizer)` raises on the first way it breaks
auditkit's contract (auditkit.contract.HOOKS), the same checks auditkit's own plugins pass in its test suite.

It constructs the plugin, checks every hook it declares, that `get_params()` round-trips as scikit-learn's does
(`type(p)(**p.get_params())` has equal params), that `fitted_settings()` is JSON-ready, and runs it once on small
random faces: a normalizer's `fit` and `transform` (uint8 faces of the input's shape), a classifier's `fit` and
`predict_proba` ((n, n_aus) probabilities in [0, 1]).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from auditkit import contract
from auditkit.errors import AuditkitError

KINDS = ("normalizer", "classifier")


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and the like: compare their text
        return repr(a) == repr(b)


def check_round_trip(plugin: object, kind: str, name: str) -> None:
    """type(p)(**p.get_params()) gives a plugin with equal params (scikit-learn's clone contract)."""
    params = contract.call(plugin, kind, "get_params", name=name)
    if params is None:
        return
    try:
        again = type(plugin)(**params)
    except Exception as exc:
        raise AuditkitError(f"{kind} plugin {name!r}: get_params: its output cannot rebuild it "
                            f"({exc.__class__.__name__}: {exc})") from None
    other = again.get_params()
    differ = sorted(k for k in set(params) | set(other) if not _equal(params.get(k), other.get(k)))
    if differ:
        raise AuditkitError(f"{kind} plugin {name!r}: get_params does not round-trip: {differ[0]!r} is "
                            f"{params.get(differ[0])!r}, then {other.get(differ[0])!r}")


def check_plugin(plugin: type | Callable | object, kind: str | None = None, name: str | None = None,
                 size: int = 64, dataset: object | None = None, **options: Any) -> None:
    """Check a normalizer or classifier plugin (its class, with constructor `options`, or an instance) against the
    contract and run it once on small random faces; raises AuditkitError naming the hook that breaks it.

    `dataset` (an auditkit Dataset): a normalizer that needs more than faces (`bind`, `check_dataset`, e.g. the
    oracle) is run on its first three subjects instead, the first as template."""
    if kind is None:
        kind = "classifier" if hasattr(plugin, "predict_proba") else "normalizer"
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    name = name or getattr(plugin, "name", None) or getattr(plugin, "__name__", type(plugin).__name__)
    contract.check(kind, name, plugin if isinstance(plugin, type) else type(plugin), on="class")
    # a class is constructed; an instance is checked as it is
    instance = plugin(**options) if isinstance(plugin, type) else plugin
    contract.check(kind, name, instance)
    check_round_trip(instance, kind, name)
    if contract.has(instance, kind, "fitted_settings"):
        try:
            json.dumps(instance.fitted_settings(), default=str)
        except (TypeError, ValueError) as exc:
            raise AuditkitError(f"{kind} plugin {name!r}: fitted_settings is not JSON-ready ({exc})") from None
    rng = np.random.default_rng(0)
    if kind == "normalizer":
        if dataset is not None:
            template, *subjects = list(dataset.subjects["subject"])[:3]
            contract.call(plugin, kind, "check_dataset", dataset, name=name)
            contract.call(instance, kind, "bind", dataset, template, name=name)
            template_faces = np.asarray(dataset.faces_of(template))
            faces = {s: np.asarray(dataset.faces_of(s)) for s in subjects}
        else:
            template_faces = rng.integers(0, 256, (12, size, size), dtype=np.uint8)
            faces = {s: rng.integers(0, 256, (12, size, size), dtype=np.uint8) for s in ("a", "b")}
        fitted = instance.fit(template_faces, faces)
        if fitted is not instance:
            raise AuditkitError(f"normalizer plugin {name!r}: fit must return the normalizer itself")
        for subject, x in faces.items():
            contract.checked_transform(instance, name, subject, x)
        contract.call(instance, kind, "output_domain", name=name)
        return
    size = contract.read(plugin, "classifier", "input_size", name)
    channels = contract.read(plugin, "classifier", "channels", name)
    shape = (size, size) if channels == 1 else (size, size, 3)
    X = rng.integers(0, 256, (40, *shape), dtype=np.uint8)
    Y = rng.integers(-1, 2, (40, 3)).astype(np.int8)
    if contract.read(plugin, "classifier", "test_only", name):
        return  # a pretrained model is not trained: its own tests run it
    fitted = instance.fit(X[:30], Y[:30], X[30:], Y[30:])
    if fitted is not instance:
        raise AuditkitError(f"classifier plugin {name!r}: fit must return the classifier itself")
    contract.read(instance, "classifier", "history", name)
    contract.checked_proba(instance, name, X[30:], Y.shape[1])

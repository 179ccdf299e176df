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


def plugin_version(kind: str, name: str) -> str | None:
    """The version of the distribution that installs a plugin (None if unknown): part of what its outputs depend on."""
    ep = available(kind).get(name)
    dist = getattr(ep, "dist", None)
    return getattr(dist, "version", None)


def code_version(kind: str, name: str) -> str | None:
    """The version of the code behind a plugin's outputs: its `cache_version` attribute (the built-ins bump theirs
    when their code changes), else the version of the package that installs it."""
    version = getattr(load(kind, name), "cache_version", None)
    return str(version) if version is not None else plugin_version(kind, name)


def make_normalizer(name: str, **options: Any) -> Any:
    """Instantiate a normalizer plugin; a setting it does not take is a one-line error listing those it does."""
    cls = load("normalizer", name)
    valid = normalizer_options(name)
    unknown = [k for k in options if k not in valid and k not in RESERVED_OPTIONS]
    if unknown:
        raise AuditkitError(f"normalizer {name!r}: unknown setting {unknown[0]!r} (valid: {', '.join(valid) or 'none'})")
    normalizer = cls(**options)
    check_contract("normalizer", name, normalizer)
    return normalizer


# what the runner itself passes to every normalizer: not for users to set
RESERVED_OPTIONS = ("seed", "progress")


def normalizer_options(name: str) -> list[str]:
    """The settings a normalizer plugin accepts: its constructor's keywords plus any it lists in `extra_options`."""
    import inspect

    cls = load("normalizer", name)
    params = inspect.signature(cls).parameters.values()
    named = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = list(getattr(cls, "extra_options", ()))
    return [o for o in dict.fromkeys(named + extra) if o not in RESERVED_OPTIONS]


def _value(text: str) -> Any:
    """An option value from the command line: true/false, an integer, a float, or else the text itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_normalizer_options(items: list[str], normalizers: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`NAME.KEY=VALUE` strings -> {normalizer: {key: value}}, each checked against the normalizer's settings."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        head, sep, text = item.partition("=")
        name, dot, key = head.strip().partition(".")
        if not sep or not dot or not name or not key:
            raise AuditkitError(f"--normalizer-option {item!r}: expected NAME.KEY=VALUE, e.g. deepfn.mode=per-subject")
        if name not in normalizers:
            raise AuditkitError(f"--normalizer-option {item!r}: {name!r} is not one of this run's normalizers "
                                f"({', '.join(normalizers)})")
        valid = normalizer_options(name)
        if key not in valid:
            raise AuditkitError(f"--normalizer-option {item!r}: {name} has no setting {key!r} "
                                f"(valid: {', '.join(valid) or 'none'})")
        out.setdefault(name, {})[key] = _value(text)
    return out


def check_contract(kind: str, name: str, plugin: object) -> None:
    """A one-line error naming the plugin when an instance lacks a method its kind's interface promises.

    The interfaces are `normalizers.base.Normalizer` and `classifiers.base.AUClassifier`; only the methods are checked
    (a runtime Protocol check would also demand optional attributes such as `name`).
    """
    needed = {"normalizer": ("fit", "transform"), "classifier": ("fit", "predict_proba")}[kind]
    missing = [m for m in needed if not callable(getattr(plugin, m, None))]
    if missing:
        raise AuditkitError(f"{kind} plugin {name!r} ({available(kind)[name].value}) does not implement the {kind} "
                            f"interface: no {' or '.join(missing)} method")


def make_classifier(name: str, **options: Any) -> Any:
    """Instantiate a classifier plugin; factories receive seed, threads and training options as keywords."""
    classifier = load("classifier", name)(**options)
    check_contract("classifier", name, classifier)
    return classifier

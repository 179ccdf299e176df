"""Entry-point registry: auditkit.normalizers / auditkit.classifiers / auditkit.datasets (built-ins register the same
way)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from auditkit import contract
from auditkit.contract import RESERVED_OPTIONS
from auditkit.errors import AuditkitError

GROUPS = {"normalizer": "auditkit.normalizers", "classifier": "auditkit.classifiers", "dataset": "auditkit.datasets"}


def available(kind: str) -> dict[str, EntryPoint]:
    """Installed plugins of one kind ('normalizer', 'classifier', 'dataset'), by name."""
    return {ep.name: ep for ep in entry_points(group=GROUPS[kind])}


def available_plugins() -> dict[str, dict[str, str]]:
    """Every installed plugin, as `auditkit plugins` lists them: {kind: {name: "module:object"}}."""
    return {kind: {name: ep.value for name, ep in sorted(available(kind).items())} for kind in GROUPS}


def load(kind: str, name: str) -> Any:
    """The class a plugin's entry point names, checked (a subclass of its kind's base with every required hook); a
    clear one-line error if it is not installed, does not load or is not such a class."""
    eps = available(kind)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise AuditkitError(f"unknown {kind} {name!r} (installed: {known}; `auditkit plugins` lists them)")
    try:
        plugin = eps[name].load()
    except Exception as exc:  # a broken third-party package must not take the CLI down with a traceback
        raise AuditkitError(f"{kind} plugin {name!r} ({eps[name].value}) failed to load: {exc}") from None
    contract.check(kind, name, plugin, on="class", origin=eps[name].value)  # class-level hooks, before any use
    return plugin


def plugin_version(kind: str, name: str) -> str | None:
    """The version of the distribution that installs a plugin (None if unknown): part of what its outputs depend on."""
    ep = available(kind).get(name)
    dist = getattr(ep, "dist", None)
    return getattr(dist, "version", None)


def code_version(kind: str, name: str) -> str | None:
    """The version of the code behind a plugin's outputs: its `cache_version` attribute (the built-ins bump theirs
    when their code changes), else the version of the package that installs it."""
    from auditkit.provenance import PLUGIN_FAMILIES, modified_code

    version = contract.read(load(kind, name), kind, "cache_version", name)
    if version is None:
        return plugin_version(kind, name)
    return str(version) + modified_code(PLUGIN_FAMILIES.get((kind, name), ()))


def make_normalizer(name: str, **options: Any) -> Any:
    """Instantiate a normalizer plugin; a setting it does not take is a one-line error listing those it does."""
    cls = load("normalizer", name)
    valid = normalizer_options(name)
    unknown = [k for k in options if k not in valid and k not in RESERVED_OPTIONS]
    if unknown:
        raise AuditkitError(
            f"normalizer {name!r}: unknown setting {unknown[0]!r} (valid: {', '.join(valid) or 'none'})"
        )
    normalizer = cls(**options)
    check_contract("normalizer", name, normalizer)
    return normalizer



def normalizer_options(name: str) -> list[str]:
    """The settings a normalizer plugin accepts: its constructor's keywords plus any it lists in `extra_options`."""
    import inspect

    cls = load("normalizer", name)
    params = inspect.signature(cls).parameters.values()
    named = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = list(contract.read(cls, "normalizer", "extra_options", name))
    return [o for o in dict.fromkeys(named + extra) if o not in RESERVED_OPTIONS]


def _guess(text: str) -> Any:
    """An option value without a type to read: true/false, an integer, a float, or else the text itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _convert(hint: Any, text: str) -> Any:
    """`text` as the annotated type `hint` (int, float, bool, str, Path, Literal choices, X | None); ValueError
    naming what it takes otherwise."""
    import typing
    from pathlib import Path

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        by_text = {str(c): c for c in typing.get_args(hint)}
        if text.strip() not in by_text:
            raise ValueError(f"one of {', '.join(by_text)}")
        return by_text[text.strip()]
    if args and origin is not typing.Literal and hint not in (int, float, bool, str):  # a union: the first that fits
        if text.strip().lower() == "none" and type(None) in typing.get_args(hint):
            return None
        problems = []
        for arg in args:
            try:
                return _convert(arg, text)
            except ValueError as exc:
                problems.append(str(exc))
        raise ValueError(" or ".join(dict.fromkeys(problems)))
    if hint is bool:
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise ValueError("true or false")
        return low == "true"
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("a whole number") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("a number") from None
    if hint in (str, Path):
        return hint(text)
    return _guess(text)


def option_value(name: str, key: str, text: str) -> Any:
    """A --normalizer-option value converted with the annotation of the normalizer's constructor keyword (settings
    taken through **kwargs, without one, are read as true/false, numbers or text)."""
    import typing

    cls = load("normalizer", name)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not resolve here: read the value as before
        hints = {}
    if key not in hints:
        return _guess(text)
    return _convert(hints[key], text)


def check_normalizer_options(options: dict[str, dict[str, Any]] | None,
                             normalizers: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
    """{normalizer: {setting: value}} checked against the run's normalizers and the settings each takes; a text value
    is converted with the constructor's annotation (the command line's), a typed one kept. The error names the
    setting; a caller adds how it was spelled (the CLI its flag)."""
    out: dict[str, dict[str, Any]] = {}
    for name, settings in (options or {}).items():
        if name not in normalizers:
            raise AuditkitError(f"{name!r} is not one of this run's normalizers ({', '.join(normalizers)})")
        if not isinstance(settings, dict):
            raise AuditkitError(f"{name}: expected a dict of setting -> value, got {type(settings).__name__}")
        valid = normalizer_options(name)
        for key, value in settings.items():
            if key not in valid:
                raise AuditkitError(f"{name} has no setting {key!r} (valid: {', '.join(valid) or 'none'})")
            if isinstance(value, str):
                try:
                    value = option_value(name, key, value)
                except ValueError as exc:
                    raise AuditkitError(f"{name}.{key} takes {exc}, got {value!r}") from None
            out.setdefault(name, {})[key] = value
    return out


def parse_normalizer_options(items: list[str] | None, normalizers: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`NAME.KEY=VALUE` strings (--normalizer-option) -> {normalizer: {key: value}}, checked as
    `check_normalizer_options` checks them, each error naming the string as given."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        head, sep, text = item.partition("=")
        name, dot, key = head.strip().partition(".")
        if not sep or not dot or not name or not key:
            raise AuditkitError(f"--normalizer-option {item!r}: expected NAME.KEY=VALUE, e.g. deepfn.mode=per-subject")
        try:
            checked = check_normalizer_options({name: {key: text}}, normalizers)
        except AuditkitError as exc:
            raise AuditkitError(f"--normalizer-option {item!r}: {exc}") from None
        out.setdefault(name, {}).update(checked[name])
    return out


def check_contract(kind: str, name: str, plugin: object) -> None:
    """A one-line error naming the plugin when an instance breaks its kind's contract (auditkit.contract.HOOKS):
    a required method missing, a hook that cannot be called as auditkit calls it, a value of the wrong type."""
    ep = available(kind).get(name)
    contract.check(kind, name, plugin, origin=ep.value if ep is not None else "")


def make_classifier(name: str, **options: Any) -> Any:
    """Instantiate a classifier plugin with seed, threads and training options as keywords; a keyword its constructor
    does not take (and no **options to take it) is a one-line error listing those it does."""
    import inspect

    cls = load("classifier", name)
    params = inspect.signature(cls).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        valid = [p.name for p in contract.constructor_params(cls)]
        unknown = [k for k in options if k not in valid]
        if unknown:
            raise AuditkitError(f"classifier {name!r}: unknown setting {unknown[0]!r} (valid: {', '.join(valid)})")
    classifier = cls(**options)
    check_contract("classifier", name, classifier)
    return classifier

"""The plugin contract: every hook auditkit may call on a normalizer, an AU classifier or a dataset source.

Each hook is listed once (`HOOKS`), with how auditkit calls it, what it must return and when; the typed bases
(`Normalizer`, `Classifier`, `DatasetSource`, exported as `auditkit.Normalizer`, ...) declare the required hooks
abstract and implement every optional hook's default, so a plugin subclasses one and overrides what it needs; an
entry point naming anything else (a function, a class of another base) is refused when it is loaded. Hooks are
read only here (`read`, `call`), and checked here: `check` when a plugin is loaded (its class: the base, the
abstract hooks implemented, class-level hooks) and constructed (the rest), returned values on every call
(`checked_transform`, `checked_proba`), each problem a one-line error naming the plugin and the hook.
ARCHITECTURE.md's extension section lists these hooks (tests/test_contract.py keeps the two in step).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditkit.errors import AuditkitError

# the faces as they are: every audit runs it first, and each normalizer's change is measured against it
BASELINE = "none"

RESERVED_OPTIONS = ("seed", "progress")  # what auditkit itself passes every normalizer: not a user's setting


@dataclass(frozen=True)
class Hook:
    """One hook of one plugin kind."""

    name: str
    signature: str  # how auditkit calls it (methods) or what it holds (attributes)
    returns: str  # what it must return or hold
    when: str  # when auditkit reads or calls it
    required: bool = False
    method: bool = True  # False: an attribute, read rather than called
    on: str = "instance"  # "class": read from the entry point's class, before any construction
    arity: int = 0  # positional arguments auditkit passes (methods): the signature must accept them
    keywords: tuple[str, ...] = ()  # keyword arguments auditkit passes beside them


def _is_version(v: object) -> str | None:
    return None if isinstance(v, (str, int)) and not isinstance(v, bool) else "must be a string or an integer"


def _is_size(v: object) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) and v >= 8 else \
        f"must be an integer of at least 8 pixels, got {v!r}"


def _is_channels(v: object) -> str | None:
    return None if v in (1, 3) and not isinstance(v, bool) else f"must be 1 or 3, got {v!r}"


def _is_bool(v: object) -> str | None:
    return None if isinstance(v, bool) else f"must be True or False, got {v!r}"


def _is_names(v: object) -> str | None:
    ok = isinstance(v, (tuple, list)) and all(isinstance(x, str) for x in v)
    return None if ok else "must be a tuple of setting names"


def _is_dict(v: object) -> str | None:
    return None if isinstance(v, dict) and all(isinstance(k, str) for k in v) else \
        f"must return a dict keyed by setting name, got {type(v).__name__}"


def _is_text(v: object) -> str | None:
    return None if v is None or isinstance(v, str) else f"must return a string or None, got {type(v).__name__}"


def _is_name(v: object) -> str | None:
    return None if v is None or isinstance(v, str) else f"must be a string, got {type(v).__name__}"


def _is_history(v: object) -> str | None:
    ok = isinstance(v, list) and all(isinstance(h, dict) and {"epoch", "val_f1"} <= set(h) for h in v)
    return None if ok else "must be a list of {'epoch': int, 'val_f1': float, ...} records"


COST_KEYS = frozenset({"what", "count", "cpu_core_s", "gpu_s", "detail", "source"})


def _is_cost(v: object) -> str | None:
    ok = v is None or (isinstance(v, dict) and COST_KEYS <= set(v))
    return None if ok else f"must return None or a dict with {', '.join(sorted(COST_KEYS))}"


# how a normalizer's output faces are drawn: histogram-equalized by the whole image or by the inner face, the
# background kept or set to mid-grey (normalizers/histeq.py draws each); the base's default is the paper's
OUTPUT_REGIONS = ("image", "face")
OUTPUT_BACKGROUNDS = ("keep", "grey")
OUTPUT_DOMAIN = {"equalize": "image", "background": "keep"}


def _is_domain(v: object) -> str | None:
    ok = (isinstance(v, dict) and set(v) == set(OUTPUT_DOMAIN) and v["equalize"] in OUTPUT_REGIONS
          and v["background"] in OUTPUT_BACKGROUNDS)
    return None if ok else (f"must return {{'equalize': {' or '.join(map(repr, OUTPUT_REGIONS))}, 'background': "
                            f"{' or '.join(map(repr, OUTPUT_BACKGROUNDS))}}}, got {v!r}")


def _is_map(v: object) -> str | None:
    return None if v is None or callable(v) else "must be None or a map(fn, calls) -> results callable"


CHECKS: dict[str, Callable[[object], str | None]] = {
    "cache_version": _is_version, "input_size": _is_size, "channels": _is_channels, "test_only": _is_bool,
    "extra_options": _is_names, "get_params": _is_dict, "fitted_settings": _is_dict, "runtime": _is_text,
    "runtime_note": _is_text, "history": _is_history, "parallel_map": _is_map, "name": _is_name, "ceiling": _is_bool,
    "fit_cost": _is_cost, "train_cost": _is_cost, "output_domain": _is_domain,
}
DEFAULTS: dict[str, object] = {
    "input_size": 64,
    "channels": 1,
    "test_only": False,
    "extra_options": (),
    "ceiling": False,
    "history": [],
    "parallel_map": None,
    "cache_version": None,
    "name": None,
}

HOOKS: dict[str, tuple[Hook, ...]] = {
    "normalizer": (
        Hook("fit", "fit(template_faces, subject_faces)", "the normalizer",
             "once per audit, after `bind`, with the template's (n, H, W) uint8 faces and {subject: faces}",
             required=True, arity=2),
        Hook("transform", "transform(subject, faces)", "uint8 faces of the input's shape",
             "after `fit`, once per subject with all of that subject's frames (checked on every call)",
             required=True, arity=2),
        Hook("check_dataset", "check_dataset(dataset)", "None; raise AuditkitError to refuse the dataset",
             "before any work, on the class", on="class", arity=1),
        Hook("bind", "bind(dataset, template)", "None", "before `fit`, for normalizers that need more than faces",
             arity=2),
        Hook("get_params", "get_params(deep=True)", "exactly the constructor's keywords (scikit-learn's contract: "
             "type(p)(**p.get_params()) makes an equal normalizer)", "by `auditkit.testing.check_plugin` and users"),
        Hook("fitted_settings", "fitted_settings()", "the settings as resolved to run (presets expanded, device), "
             "JSON-ready", "after construction: recorded in normalizers.json, the input cache's key and the plan"),
        Hook("extra_options", "extra_options", "a tuple of setting names taken through **kwargs",
             "when --normalizer-option values are checked", method=False, on="class"),
        Hook("cache_version", "cache_version", "a string or integer, bumped when the output can change",
             "in every audit identity and input cache key", method=False, on="class"),
        Hook("ceiling", "ceiling", "True for an instrument that sees the ground truth (default False): its gain over "
             "`none` is the attainable one, and every other normalizer's share of it is reported",
             "when an audit's tables are computed", method=False, on="class"),
        Hook("output_domain", "output_domain()", "{'equalize': 'image' or 'face', 'background': 'keep' or 'grey'}: "
             "how its output faces are drawn (histogram-equalized by the whole image or the inner face; background "
             "kept or mid-grey); the base's default is image and keep", "after `fit`: recorded in a normalized "
             "dataset's provenance, from which the synthetic-data quality check draws the ideal face alike"),
        Hook("fit_cost", "fit_cost(n_subjects)", "None (cost unknown, the default) or {'what', 'count': fits, "
             "'cpu_core_s', 'gpu_s' (None: not measured), 'detail', 'source'} for fitting on that many people, "
             "from measured rates", "by `auditkit plan`, with the audit's settings", arity=1),
        Hook("parallel_map", "parallel_map", "None (the default), which auditkit may replace by map(fn, calls)",
             "set before `fit` when the audit runs on a cluster, to spread the fit", method=False),
    ),
    "classifier": (
        Hook("fit", "fit(X, Y, X_val, Y_val)", "the classifier", "once per training; Y is int8, -1 where not coded",
             required=True, arity=4),
        Hook("predict_proba", "predict_proba(X)", "(n, n_aus) probabilities in [0, 1]",
             "after `fit`, once per test group (checked on every call)", required=True, arity=1),
        Hook("get_params", "get_params(deep=True)", "exactly the constructor's keywords (type(c)(**c.get_params()) "
             "makes an equal classifier)", "by `auditkit.testing.check_plugin` and users"),
        Hook("train_cost", "train_cost(images)", "None (cost unknown, the default) or {'what', 'count': 1, "
             "'cpu_core_s', 'gpu_s', 'detail', 'source'} for one training on that many faces per epoch",
             "by `auditkit plan`, once per planned training, with the audit's settings", arity=1),
        Hook("history", "history", "a list of {'epoch', 'val_f1', ...} records (default [])",
             "after `fit`: epochs run and the best epoch go to every results row", method=False),
        Hook("input_size", "input_size", "the square face size in pixels (default 64)",
             "before the audit, to prepare the inputs", method=False, on="class"),
        Hook("channels", "channels", "1 (gray, (n, H, W); the default) or 3 ((n, H, W, 3))",
             "before the audit, to prepare the inputs", method=False, on="class"),
        Hook("test_only", "test_only", "True for a model that cannot be trained (default False)",
             "before `auditkit gap`, which refuses it", method=False, on="class"),
        Hook("runtime", "runtime()", "a line saying how it computes here, or None",
             "recorded in run.json and on every results row", on="class"),
        Hook("runtime_note", "runtime_note()", "a line to print once per audit (e.g. a slower fallback), or None",
             "once per audit", on="class"),
        Hook("cache_version", "cache_version", "a string or integer, bumped when results can change",
             "in every audit identity", method=False, on="class"),
    ),
    "dataset": (
        Hook("load", "load(out, root=..., demographics=None, n_jobs=-1)", "the dataset directory written (or None: "
             "`out`)", "by `auditkit ingest NAME ROOT --out DIR`, which then validates what it wrote",
             required=True, arity=1, keywords=("root", "demographics", "n_jobs")),
        Hook("name", "name", "the source's name", "in messages", method=False, on="class"),
    ),
}


def hooks(kind: str) -> dict[str, Hook]:
    """The hooks of one plugin kind, by name."""
    return {h.name: h for h in HOOKS[kind]}


def hooks_markdown() -> str:
    """The hooks as ARCHITECTURE.md's table (tests/test_contract.py checks the file holds exactly this)."""
    lines = [
        "| plugin | hook | on | required | returns or holds | when auditkit uses it |",
        "|---|---|---|---|---|---|",
    ]
    for kind, specs in HOOKS.items():
        for h in specs:
            where = "class" if h.on == "class" else "instance"
            lines.append(f"| {kind} | `{h.signature}` | {where} | {'yes' if h.required else 'no'} | {h.returns} | "
                         f"{h.when} |")
    return "\n".join(lines) + "\n"


def _where(kind: str, name: str, hook: str) -> str:
    return f"{kind} plugin {name!r}: {hook}"


def _defines(plugin: object, hook: str) -> bool:
    return getattr(plugin, hook, None) is not None


def read(plugin: object, kind: str, hook: str, name: str = "") -> Any:
    """An attribute hook's value (its default when the plugin does not set it), checked."""
    spec = hooks(kind)[hook]
    if spec.method:
        raise ValueError(f"{hook} is a method hook: use contract.call")
    value = getattr(plugin, hook, None)
    if value is None:
        return DEFAULTS.get(hook)
    problem = CHECKS.get(hook, lambda v: None)(value)
    if problem:
        raise AuditkitError(f"{_where(kind, name or _label(plugin), hook)} {problem}")
    return value


def call(plugin: object, kind: str, hook: str, *args: Any, name: str = "", **kwargs: Any) -> Any:
    """Call an optional method hook if the plugin has it (None otherwise), checking what it returns."""
    spec = hooks(kind)[hook]
    if not spec.method:
        raise ValueError(f"{hook} is an attribute hook: use contract.read")
    method = getattr(plugin, hook, None)
    if method is None:
        return None
    value = method(*args, **kwargs)
    problem = CHECKS.get(hook, lambda v: None)(value)
    if problem:
        raise AuditkitError(f"{_where(kind, name or _label(plugin), hook)} {problem}")
    return value


def settings(normalizer: object) -> dict:
    """A normalizer's settings as it runs: its `fitted_settings()` (the base's default: `get_params()` without seed
    and progress)."""
    return call(normalizer, "normalizer", "fitted_settings")


def has(plugin: object, kind: str, hook: str) -> bool:
    """Whether the plugin offers an optional hook (the attribute `parallel_map` counts when declared, even as None)."""
    if hook == "parallel_map":
        return hasattr(plugin, hook)
    return _defines(plugin, hook)


def _label(plugin: object) -> str:
    return str(getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__)


def _accepts(fn: Callable, arity: int, keywords: tuple[str, ...] = ()) -> bool:
    try:
        inspect.signature(fn).bind(*([None] * arity), **dict.fromkeys(keywords))
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): cannot tell, so trust it
        return True
    return True


def check(kind: str, name: str, plugin: object, on: str = "instance", origin: str = "") -> None:
    """Check every hook of `kind` that lives `on` the class or the instance: required ones present, methods callable
    with auditkit's arguments, attributes of the right type, get_params and fitted_settings returning dicts.
    `origin` (the entry point, module:object) is named in the error beside the plugin's name."""
    who = f"{name!r} ({origin})" if origin else repr(name)
    if on == "class":
        _check_base(kind, who, plugin)
    for spec in HOOKS[kind]:
        if spec.on != on:
            continue
        value = getattr(plugin, spec.name, None)
        if value is None:
            if spec.required:
                raise AuditkitError(f"{kind} plugin {who} does not implement the {kind} interface: no "
                                    f"{spec.name} method ({spec.signature} -> {spec.returns})")
            continue
        where = f"{kind} plugin {who}: {spec.name}"
        if spec.method:
            if not callable(value):
                raise AuditkitError(f"{where} must be a method {spec.signature}, got {type(value).__name__}")
            if not _accepts(value, spec.arity, spec.keywords):
                raise AuditkitError(f"{where} cannot be called as {spec.signature}")
            if spec.name in ("get_params", "fitted_settings"):
                problem = CHECKS[spec.name](value())
                if problem:
                    raise AuditkitError(f"{where} {problem}")
        else:
            problem = CHECKS.get(spec.name, lambda v: None)(value)
            if problem:
                raise AuditkitError(f"{where} {problem}")


def _check_base(kind: str, who: str, plugin: object) -> None:
    """A plugin is a class subclassing its kind's base, with every required (abstract) hook implemented."""
    base = BASES[kind]
    if not (isinstance(plugin, type) and issubclass(plugin, base)):
        got = f"class {plugin.__name__}" if isinstance(plugin, type) else type(plugin).__name__
        raise AuditkitError(f"{kind} plugin {who} must be a class subclassing auditkit.{base.__name__}, got {got}")
    missing = [h for h in HOOKS[kind] if h.name in plugin.__abstractmethods__]
    if missing:
        spec = missing[0]
        raise AuditkitError(f"{kind} plugin {who} does not implement the {kind} interface: no {spec.name} method "
                            f"({spec.signature} -> {spec.returns})")


def checked_transform(normalizer: object, name: str, subject: str, faces: np.ndarray) -> np.ndarray:
    """transform(subject, faces), refusing output that is not uint8 faces of the input's shape."""
    out = normalizer.transform(subject, faces)
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != np.shape(faces):
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise AuditkitError(f"{_where('normalizer', name, 'transform')} returned {got} for subject {subject!r}; "
                            f"expected uint8 {tuple(np.shape(faces))}")
    return out


def checked_proba(classifier: object, name: str, X: np.ndarray, n_aus: int) -> np.ndarray:
    """predict_proba(X), refusing anything but (n, n_aus) probabilities in [0, 1]."""
    out = classifier.predict_proba(X)
    if not isinstance(out, np.ndarray) or out.shape != (len(X), n_aus):
        got = getattr(out, "shape", type(out).__name__)
        raise AuditkitError(f"{_where('classifier', name, 'predict_proba')} returned {got}; expected "
                            f"({len(X)}, {n_aus})")
    if out.size and not (np.nanmin(out) >= 0 and np.nanmax(out) <= 1):
        raise AuditkitError(f"{_where('classifier', name, 'predict_proba')} returned values outside [0, 1] "
                            f"({np.nanmin(out):.3g} to {np.nanmax(out):.3g})")
    return out


def constructor_params(cls: type) -> list[inspect.Parameter]:
    """The keyword parameters of a plugin class's constructor (not *args, **kwargs or `self`)."""
    return [p for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


class _Params:
    """scikit-learn's settings contract: the constructor stores each keyword under its own name (as given: settings
    are resolved in `fit`), `get_params` returns them and `set_params` changes them."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keywords as given (scikit-learn's get_params; `progress`, a callback, left out)."""
        missing = [p.name for p in constructor_params(type(self)) if not hasattr(self, p.name)
                   and p.name != "progress"]
        if missing:
            raise AuditkitError(f"{type(self).__name__}.get_params: no attribute {missing[0]!r} stored for the "
                                "constructor keyword of that name (scikit-learn's get_params contract)")
        return {p.name: getattr(self, p.name) for p in constructor_params(type(self)) if p.name != "progress"}

    def set_params(self, **params: Any) -> _Params:
        """Change constructor keywords (scikit-learn's set_params); a name the constructor does not take is an error."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise AuditkitError(f"{type(self).__name__}.set_params: no setting {key!r} "
                                    f"(valid: {', '.join(valid) or 'none'})")
            setattr(self, key, value)
        return self


class Normalizer(_Params, abc.ABC):
    """Base of face normalizers: implement `fit` and `transform` (abstract); every other hook has a default here.

    The constructor takes the normalizer's settings as keywords (plus `seed` and `progress`, which auditkit passes
    every normalizer), each stored under its own name, so `get_params()` round-trips.
    """

    name: str = ""
    cache_version: str | int | None = None
    extra_options: tuple[str, ...] = ()
    # parallel_map is opt-in: a normalizer that can spread its fit sets `self.parallel_map = None` in __init__

    @abc.abstractmethod
    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> Normalizer:
        """Learn what the normalizer needs from the template's faces and every subject's."""

    @abc.abstractmethod
    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """One subject's (n, H, W) uint8 faces, normalized: the same shape and dtype."""

    @staticmethod
    def check_dataset(dataset: object) -> None:
        """Refuse a dataset this normalizer cannot work on (raise AuditkitError); accepts every dataset by default."""

    def bind(self, dataset: object, template: str | None) -> None:
        """Receive the dataset and the template subject before `fit` (nothing to do by default)."""

    def fitted_settings(self) -> dict[str, Any]:
        """The settings as they will run (defaults resolved): by default get_params() without seed and progress."""
        return {k: v for k, v in self.get_params().items() if k not in RESERVED_OPTIONS}

    def output_domain(self) -> dict[str, str]:
        """How the output faces are drawn: equalized by the whole image, background kept (the paper's; histeq's)."""
        return dict(OUTPUT_DOMAIN)


class Classifier(_Params, abc.ABC):
    """Base of AU classifiers (scikit-learn's shapes): implement `fit` and `predict_proba` (abstract)."""

    input_size: int = 64
    channels: int = 1
    test_only: bool = False
    cache_version: str | int | None = None
    history: list[dict] = []  # noqa: RUF012 (read-only default; fit sets its own list)

    @abc.abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> Classifier:
        """Train on faces X and labels Y (int8, -1 where not coded); select the model on the validation set."""

    @abc.abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per-AU presence probabilities, (n, n_aus) in [0, 1]."""


class DatasetSource(abc.ABC):
    """Base of dataset sources: implement `load` (abstract), which writes the dataset format into `out`."""

    name: str = ""

    @abc.abstractmethod
    def load(self, out: Any, root: Any = None, demographics: Any = None, n_jobs: int = -1, **options: Any) -> Any:
        """Write the dataset directory into `out` from the source's files under `root`; return its path."""


BASES: dict[str, type] = {"normalizer": Normalizer, "classifier": Classifier, "dataset": DatasetSource}

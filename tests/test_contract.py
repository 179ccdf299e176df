"""The plugin contract: every hook checked (present, callable as auditkit calls it, of the right type), returned
values checked on every call, scikit-learn's get_params round trip for every built-in plugin, option strings typed
by the constructor's annotations, and ARCHITECTURE.md's hook table generated from the code."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import numpy as np
import pytest

from auditkit import contract
from auditkit.contract import Classifier, Normalizer, checked_proba, checked_transform
from auditkit.errors import AuditkitError
from auditkit.plugins import load, parse_normalizer_options
from auditkit.testing import check_plugin
from tests.helpers import torchscript_model

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"


def test_architecture_lists_exactly_the_hooks_of_the_code() -> None:
    text = ARCHITECTURE.read_text()
    block = re.search(r"<!-- hooks:begin -->\n(.*?)<!-- hooks:end -->", text, re.S)
    assert block, "ARCHITECTURE.md lost its hooks table"
    assert block.group(1) == contract.hooks_markdown(), \
        "ARCHITECTURE.md's hook table differs from contract.HOOKS: paste contract.hooks_markdown() between the markers"


@pytest.mark.parametrize("name", ["none", "histeq"])
def test_builtin_normalizers_pass_check_plugin(name: str) -> None:
    check_plugin(load("normalizer", name), "normalizer", name)


def test_deepfn_passes_check_plugin_and_its_params_round_trip(tmp_path: Path) -> None:
    from auditkit.normalizers.deepfn.normalizer import MODES, DeepFNNormalizer
    from auditkit.normalizers.deepfn.presets import PRESETS

    check_plugin(DeepFNNormalizer, "normalizer", "deepfn", iterations=2, cache_dir=str(tmp_path), lr=5e-4)
    n = DeepFNNormalizer(iterations=2, lr=5e-4)
    assert n.get_params()["lr"] == 5e-4 and "device" not in n.get_params()  # the constructor's keywords only
    assert n.fitted_settings()["device"] in ("cpu", "cuda") and n.fitted_settings()["mode"] in MODES
    assert DeepFNNormalizer(**n.get_params()).fitted_settings() == n.fitted_settings()
    hints = typing.get_type_hints(DeepFNNormalizer.__init__)  # the option choices stay those the code accepts
    assert set(typing.get_args(typing.get_args(hints["mode"])[0])) == set(MODES)
    assert set(typing.get_args(typing.get_args(hints["preset"])[0])) == set(PRESETS)


def test_oracle_passes_check_plugin_with_a_dataset(tiny_dataset: Path) -> None:
    from auditkit.data import load_dataset

    check_plugin(load("normalizer", "oracle"), "normalizer", "oracle", dataset=load_dataset(tiny_dataset))


def test_lenet_passes_check_plugin() -> None:
    check_plugin(load("classifier", "lenet5"), "classifier", "lenet5", epochs=1)


def test_the_sources_are_dataset_sources() -> None:
    for name in ("synthetic", "bp4d", "disfa"):
        source = load("dataset", name)()
        assert isinstance(source, contract.DatasetSource)
        contract.check("dataset", name, source)


class _Norm(Normalizer):
    name = "t"

    def __init__(self, scale: float = 1.0, seed: int = 0, progress: object = None) -> None:
        self.scale = scale
        self.seed = seed

    def fit(self, template_faces: np.ndarray, subject_faces: dict) -> _Norm:
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        return np.asarray(faces)


class _Clf(Classifier):
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X, Y, X_val, Y_val) -> _Clf:  # noqa: ANN001
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full((len(X), 3), 0.5, np.float32)


def test_a_minimal_subclass_is_a_whole_plugin() -> None:
    check_plugin(_Norm, "normalizer", "t")
    check_plugin(_Clf, "classifier", "c")
    norm = _Norm(scale=2.0)
    assert norm.get_params() == {"scale": 2.0, "seed": 0} and norm.fitted_settings() == {"scale": 2.0}


def _broken(base: type, **attrs: object) -> type:
    return type("Broken", (base,), attrs)


@pytest.mark.parametrize("kind,base,attrs,message", [
    ("normalizer", _Norm, {"transform": None}, "does not implement the normalizer interface: no transform method"),
    ("normalizer", _Norm, {"transform": lambda self, faces: faces}, "transform cannot be called as transform"),
    ("normalizer", _Norm, {"bind": 3}, "bind must be a method"),
    ("normalizer", _Norm, {"get_params": lambda self, deep=True: [1]}, "get_params must return a dict"),
    ("normalizer", _Norm, {"fitted_settings": lambda self: "x"}, "fitted_settings must return a dict"),
    ("normalizer", _Norm, {"extra_options": "gamma"}, "extra_options must be a tuple"),
    ("normalizer", _Norm, {"cache_version": 1.5}, "cache_version must be a string or an integer"),
    ("normalizer", _Norm, {"check_dataset": staticmethod(lambda: None)}, "check_dataset cannot be called as"),
    ("classifier", _Clf, {"input_size": 4}, "input_size must be an integer of at least 8"),
    ("classifier", _Clf, {"channels": 2}, "channels must be 1 or 3"),
    ("classifier", _Clf, {"test_only": "yes"}, "test_only must be True or False"),
    ("classifier", _Clf, {"predict_proba": None}, "no predict_proba method"),
    ("classifier", _Clf, {"fit": lambda self, X, Y: self}, "fit cannot be called as fit"),
    ("classifier", _Clf, {"history": [{"epoch": 1}]}, "history must be a list of"),
    ("classifier", _Clf, {"runtime": "fast"}, "runtime must be a method"),
    ("classifier", _Clf, {"runtime_note": 3}, "runtime_note must be a method"),
    ("classifier", _Clf, {"get_params": lambda self: None}, "get_params must return a dict"),
    ("classifier", _Clf, {"cache_version": True}, "cache_version must be a string or an integer"),
    ("normalizer", _Norm, {"parallel_map": 3}, "parallel_map must be None or a map"),
    ("normalizer", _Norm, {"fit": lambda self, faces: self}, "fit cannot be called as fit"),
    ("dataset", contract.DatasetSource, {"load": lambda self: None}, "load cannot be called as load"),
    ("dataset", _broken(contract.DatasetSource, load=lambda self, out, **kw: out), {"name": 3},
     "name must be a string"),
])
def test_each_hook_is_validated_in_one_line(kind: str, base: type, attrs: dict, message: str) -> None:
    broken = _broken(base, **attrs)
    with pytest.raises(AuditkitError, match=re.escape(message)) as err:
        contract.check(kind, "broken", broken, on="class")
        contract.check(kind, "broken", broken())
    assert "broken" in str(err.value) and "\n" not in str(err.value)


def test_returned_values_are_checked_on_every_call() -> None:
    faces = np.zeros((4, 8, 8), np.uint8)
    floaty = _broken(_Norm, transform=lambda self, subject, f: f.astype(np.float32))()
    with pytest.raises(
        AuditkitError,
        match=r"normalizer plugin 't': transform returned float32 \(4, 8, 8\) for subject "
        r"'s1'; expected uint8 \(4, 8, 8\)",
    ):
        checked_transform(floaty, "t", "s1", faces)
    shrunk = _broken(_Norm, transform=lambda self, subject, f: f[:2])()
    with pytest.raises(AuditkitError, match="expected uint8"):
        checked_transform(shrunk, "t", "s1", faces)
    with pytest.raises(AuditkitError, match=r"predict_proba returned \(4, 3\); expected \(4, 2\)"):
        checked_proba(_Clf(), "c", faces, 2)
    logits = _broken(_Clf, predict_proba=lambda self, X: np.full((len(X), 3), 2.5))()
    with pytest.raises(AuditkitError, match=r"values outside \[0, 1\] \(2.5 to 2.5\)"):
        checked_proba(logits, "c", faces, 3)
    with pytest.raises(AuditkitError, match="runtime must return a string or None"):
        contract.call(_broken(_Clf, runtime=staticmethod(lambda: 3)), "classifier", "runtime", name="c")


def test_output_domain_defaults_to_the_papers_and_a_bad_one_is_refused_by_check_plugin() -> None:
    assert contract.call(_Norm(), "normalizer", "output_domain") == {"equalize": "image", "background": "keep"}
    blurry = _broken(_Norm, output_domain=lambda self: {"equalize": "face", "background": "blur"})
    with pytest.raises(AuditkitError, match=r"normalizer plugin 'b': output_domain must return \{'equalize': 'image' "
                                            r"or 'face', 'background': 'keep' or 'grey'\}, got .*'blur'"):
        check_plugin(blurry, "normalizer", "b")


class _Halfway(Normalizer):
    """Implements fit but not transform."""

    def fit(self, template_faces: np.ndarray, subject_faces: dict) -> _Halfway:
        return self


def _factory(seed: int = 0) -> _Clf:
    return _Clf(seed)


@pytest.mark.parametrize(
    "kind,plugin,message",
    [
        (
            "normalizer",
            _Halfway,
            "normalizer plugin 'p' (m:o) does not implement the normalizer interface: no transform "
            "method (transform(subject, faces) -> uint8 faces of the input's shape)",
        ),
        (
            "classifier",
            _factory,
            "classifier plugin 'p' (m:o) must be a class subclassing auditkit.Classifier, got function",
        ),
        (
            "classifier",
            _Norm,
            "classifier plugin 'p' (m:o) must be a class subclassing auditkit.Classifier, got class _Norm",
        ),
        (
            "dataset",
            contract.DatasetSource,
            "dataset plugin 'p' (m:o) does not implement the dataset interface: no load",
        ),
    ],
)
def test_only_a_whole_subclass_of_the_base_loads(kind: str, plugin: object, message: str) -> None:
    with pytest.raises(AuditkitError, match=re.escape(message)) as err:
        contract.check(kind, "p", plugin, on="class", origin="m:o")
    assert "\n" not in str(err.value)


def test_builtin_params_round_trip_through_set_params() -> None:
    for kind, name, options in [("normalizer", n, {}) for n in ("none", "histeq", "oracle", "deepfn")] + \
            [("classifier", "lenet5", {"epochs": 2})]:
        plugin = load(kind, name)(**options)
        params = plugin.get_params()
        fresh = load(kind, name)()
        assert fresh.set_params(**params) is fresh and fresh.get_params() == params, name


def test_get_params_needs_each_keyword_stored() -> None:
    class Forgetful(_Norm):
        def __init__(self, scale: float = 1.0, seed: int = 0, progress: object = None) -> None:
            self.seed = seed

    with pytest.raises(AuditkitError, match="get_params"):
        check_plugin(Forgetful, "normalizer", "forgetful")


def test_round_trip_failures_are_named() -> None:
    class Lossy(_Norm):
        def get_params(self, deep: bool = True) -> dict:
            return {"scale": self.scale + 1, "seed": self.seed}

    with pytest.raises(AuditkitError, match="get_params does not round-trip: 'scale' is 2.0, then 3.0"):
        check_plugin(Lossy, "normalizer", "lossy")


def test_option_strings_take_the_constructor_annotations() -> None:
    got = parse_normalizer_options(["deepfn.iterations=30", "deepfn.mode=amortized", "deepfn.recenter=true",
                                    "deepfn.lr=1e-4", "deepfn.cache_dir=/tmp/x", "deepfn.max_frames=none"],
                                   ("none", "deepfn"))["deepfn"]
    assert got == {"iterations": 30, "mode": "amortized", "recenter": True, "lr": 1e-4, "cache_dir": "/tmp/x",
                   "max_frames": None}
    for item, message in (("deepfn.mode=fast", "deepfn.mode takes one of amortized, per-subject, got 'fast'"),
                          ("deepfn.iterations=3.5", "deepfn.iterations takes a whole number, got '3.5'"),
                          ("deepfn.recenter=maybe", "deepfn.recenter takes true or false, got 'maybe'"),
                          ("deepfn.preset=big", "deepfn.preset takes one of paper, lite, got 'big'")):
        with pytest.raises(AuditkitError, match=re.escape(message)):
            parse_normalizer_options([item], ("none", "deepfn"))


def test_pretrained_passes_the_contract_and_round_trips(tmp_path: Path) -> None:

    path = torchscript_model(tmp_path)
    check_plugin(load("classifier", "pretrained"), "classifier", "pretrained", model=str(path))
    clf = load("classifier", "pretrained")(model=str(path), batch_size=32)
    again = type(clf)(**clf.get_params())
    assert again.get_params() == clf.get_params() and again.batch_size == 32
    # stored as given, read on first use: the card keyword stays None, the card read from beside the model
    assert clf.get_params()["card"] is None and clf.aus == list(clf.card_.aus) and clf.get_params()["card"] is None
    fresh = load("classifier", "pretrained")()  # constructing reads nothing: set_params then use
    assert fresh.set_params(model=str(path)).aus == clf.aus

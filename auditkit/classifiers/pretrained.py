"""A user's pretrained AU model file (TorchScript or torch.export, or ONNX through onnxruntime) behind the Classifier
interface.

The model is described by a small JSON card next to it (`model.onnx` -> `model.json`), or by the same fields given
as options: which AU each output is, the input size, how pixels are scaled, and whether outputs are logits.
Pretrained models are audited test-only (`auditkit audit-model`): `fit` refuses.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from auditkit.contract import Classifier
from auditkit.data.format import au_name
from auditkit.errors import AuditkitError, ModelFileError
from auditkit.files import read_json_object, validation_problem

# bump when a change here can change the predictions it reads from a model file
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1

SCALES = ("unit", "byte", "standard")  # x/255, raw 0-255, (x/255 - mean) / std
OUTPUTS = ("probabilities", "logits")
TORCH_SUFFIXES = {".pt", ".pth", ".ts", ".torchscript", ".jit", ".pt2"}


class ModelCard(BaseModel):
    """What auditkit must know to feed a model: output AUs in order, input size and pixel scaling, output kind.

    A pydantic model: `ModelCard.model_json_schema()` is the card's JSON Schema; unknown fields are refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # the schema says what a card may hold (AU numbers or names); the model holds the names the validator makes
    aus: Annotated[
        tuple[str, ...],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "title": "Aus",
                "items": {
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "pattern": "^\\s*([Aa][Uu])?\\d+\\s*$"},
                    ]
                },
            }
        ),
    ] = Field(description="the AU of each output, in order: numbers (1, 12) or names ('AU01', 'AU12')")
    input_size: tuple[StrictInt, StrictInt] = (128, 128)  # (height, width); one integer means a square
    channels: Literal[1, 3] = 1  # 3: the gray face is repeated on three channels
    scale: str = "unit"
    mean: float = 0.5
    std: float = 0.5
    output: str = "probabilities"

    def __init__(self, **values: Any) -> None:
        # pydantic calls this for model_validate too; from_dict puts the card's file name in place of "model card"
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ModelFileError("model card", *validation_problem(exc, ModelCard)) from None

    @field_validator("aus", mode="before")
    @classmethod
    def _aus(cls, value: Any) -> tuple[str, ...]:
        """AU numbers (1, '1', 'AU1') become AU01."""
        names = tuple(_au(a) for a in (value if isinstance(value, list | tuple) else [value]))
        if not names:
            raise ValueError("must name the AU of each output, e.g. [1, 2, 4]")
        return names

    @field_validator("input_size", mode="before")
    @classmethod
    def _square(cls, value: Any) -> Any:
        ok = isinstance(value, int) or (isinstance(value, list | tuple) and len(value) == 2 and
                                        all(isinstance(v, int) and v > 0 for v in value))
        if not ok or (isinstance(value, int) and value <= 0):
            raise ValueError(f"must be [height, width] or one integer, got {value!r}")
        return (value, value) if isinstance(value, int) else tuple(value)

    @field_validator("scale", "output")
    @classmethod
    def _choice(cls, value: str, info: ValidationInfo) -> str:
        choices = {"scale": SCALES, "output": OUTPUTS}[info.field_name]
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | Path = "model card") -> ModelCard:
        """Build from JSON-like values (AU numbers allowed); a ModelFileError naming `where` and the field otherwise."""
        try:
            return cls.model_validate(d)
        except ModelFileError as exc:
            raise ModelFileError(where, exc.field, exc.problem) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recorded in run.json)."""
        return {**self.model_dump(), "aus": list(self.aus), "input_size": list(self.input_size)}


def _au(value: Any) -> str:
    text = str(value).strip().upper().removeprefix("AU")
    if not text.isdigit():
        raise ValueError(f"{value!r} is not an AU (use 1, 'AU01', ...)")
    return au_name(int(text))


def read_card(model: Path, card: Path | None = None) -> ModelCard:
    """The model's card: `card` if given, else MODEL.json beside the model file."""
    path = card if card is not None else model.with_suffix(".json")
    if not path.is_file():
        raise ModelFileError(path, None, "model card not found (write {\"aus\": [1, 2, 4, ...]} there, or pass --card)")
    return ModelCard.from_dict(read_json_object(path, ModelFileError), path)


class _Torch:
    """TorchScript archives (torch.jit.save) and exported programs (torch.export.save, .pt2)."""

    def __init__(self, path: Path, threads: int | None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        exported = path.suffix.lower() == ".pt2"
        kind = "torch.export (.pt2)" if exported else "TorchScript"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # users bring TorchScript files as they have them
                self.model = torch.export.load(str(path)).module() if exported else \
                    torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:  # torch raises RuntimeError, ValueError or zipfile errors for a bad archive
            raise ModelFileError(
                path, None, f"not a loadable {kind} model ({str(exc).splitlines()[0][:120]})"
            ) from None
        self.torch = torch

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            y = self.model(self.torch.from_numpy(x))
        if isinstance(y, list | tuple):
            y = y[0]
        return y.float().numpy()


class _Onnx:
    def __init__(self, path: Path, threads: int | None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise AuditkitError("ONNX models need onnxruntime: pip install 'auditkit[onnx]'") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for corrupt or unsupported graphs
            raise ModelFileError(path, None, f"not a loadable ONNX model ({str(exc).splitlines()[0][:120]})") from None
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input: x})[0], np.float32)


class PretrainedClassifier(Classifier):
    """predict_proba of a TorchScript (.pt/.ts), torch.export (.pt2) or ONNX (.onnx) model on (n, H, W) faces."""

    test_only = True  # `auditkit gap` refuses it up front; `auditkit audit-model` runs it
    cache_version = CACHE_VERSION  # in the audit identity

    def __init__(self, model: str | Path | None = None, card: ModelCard | str | Path | None = None,
                 batch_size: int = 256, threads: int | None = None, seed: int | None = None, **options: Any) -> None:
        # seed: every classifier plugin is given one; a pretrained model draws nothing, so it is unused
        if options:
            raise AuditkitError(f"pretrained: unknown setting {sorted(options)[0]!r} (valid: model, card, batch_size, "
                                "threads)")
        # as given (scikit-learn's rule): the file and its card are read by `load`, on first use
        self.model, self.card, self.batch_size, self.threads, self.seed = model, card, batch_size, threads, seed
        self._loaded: tuple[Path, ModelCard, Any] | None = None

    def load(self) -> PretrainedClassifier:
        """Read the model card and open the model file (once); a one-line error naming the file and field otherwise.
        Called by every use; callers that want problems before any work call it first."""
        if self._loaded is None:
            if self.model is None:  # e.g. `auditkit gap --classifier pretrained`, which would need to train it
                raise AuditkitError("pretrained: needs a model file and cannot be trained; "
                                    "audit it with `auditkit audit-model MODEL --data DIR --attr ATTR`")
            path = Path(self.model)
            if not path.is_file():
                raise ModelFileError(path, None, "model file not found")
            card = self.card if isinstance(self.card, ModelCard) else \
                read_card(path, Path(self.card) if self.card else None)
            suffix = path.suffix.lower()
            if suffix == ".onnx":
                run: Any = _Onnx(path, self.threads)
            elif suffix in TORCH_SUFFIXES:
                run = _Torch(path, self.threads)
            else:
                raise ModelFileError(path, None, f"unknown model type {suffix!r} (.onnx; TorchScript .pt .ts .pth; "
                                                 "torch.export .pt2)")
            self._loaded = (path, card, run)
        return self

    @property
    def path(self) -> Path:
        """The model file."""
        return self.load()._loaded[0]

    @property
    def card_(self) -> ModelCard:
        """The model card as read (its `card` keyword, a MODEL.json path, or the card beside the model)."""
        return self.load()._loaded[1]

    @property
    def aus(self) -> list[str]:
        """The AU of each output column."""
        return list(self.card_.aus)

    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> PretrainedClassifier:
        """Refuse: a pretrained model is audited as it is."""
        # named from the keyword: refusing needs no model file read
        name = Path(self.model).name if self.model is not None else "pretrained"
        raise AuditkitError(f"{name}: a pretrained model is audited test-only; use `auditkit audit-model`")

    def _inputs(self, faces: np.ndarray) -> np.ndarray:
        c = self.card_
        h, w = c.input_size
        if faces.shape[1:] != (h, w):
            faces = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in faces])
        x = faces.astype(np.float32)
        if c.scale != "byte":
            x /= 255.0
        if c.scale == "standard":
            x = (x - c.mean) / c.std
        x = x[:, None]
        return np.ascontiguousarray(np.repeat(x, 3, axis=1) if c.channels == 3 else x)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per-AU presence probabilities (n, n_aus), in the card's AU order."""
        X = np.asarray(X)
        if X.ndim != 3:
            raise AuditkitError(f"{self.path.name}: expected faces of shape (n, H, W), got {X.shape}")
        outs = []
        for i in range(0, len(X), self.batch_size):
            y = self.load()._loaded[2](self._inputs(X[i : i + self.batch_size]))
            if y.ndim != 2 or y.shape[1] != len(self.aus):
                raise ModelFileError(self.path, "aus", f"the model returns shape {tuple(y.shape)} but the card names "
                                                     f"{len(self.aus)} AUs (expected (batch, {len(self.aus)}))")
            outs.append(y)
        y = np.concatenate(outs) if outs else np.zeros((0, len(self.aus)), np.float32)
        if self.card_.output == "logits":
            return 1.0 / (1.0 + np.exp(-y))
        if len(y) and (np.nanmin(y) < 0 or np.nanmax(y) > 1):
            raise ModelFileError(self.path, "output", f"outputs span [{np.nanmin(y):.3g}, {np.nanmax(y):.3g}], not "
                                                    "probabilities; set \"output\": \"logits\" in the card")
        return y

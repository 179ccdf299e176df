"""What determines an audit's results: the protocol presets and `AuditConfig` (stored in run.json; resuming requires
the same)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from auditkit.errors import AuditkitError
from auditkit.normalizers.base import with_baseline
from auditkit.stats.metrics import DEFAULT_F1_RULE, check_f1_rule

AUDIT_PRESETS: dict[str, dict] = {
    # the paper's protocol: 50 epochs, 20 repetitions, every person-independent test subject also gets a dependent model
    "paper": {"repeats": 20, "epochs": 50, "patience": None, "person_dependent": 10_000, "lr": 5e-5, "balanced": False},
    # minutes on 2 CPU cores: fewer, faster-converging trainings (lr 1e-3, class-balanced loss, early stopping)
    "default": {"repeats": 10, "epochs": 15, "patience": 5, "person_dependent": 6, "lr": 1e-3, "balanced": True},
    # seconds: for trying the pipeline and for tests
    "smoke": {"repeats": 2, "epochs": 2, "patience": None, "person_dependent": 2, "lr": 1e-3, "balanced": True},
}


@dataclass(frozen=True)
class AuditConfig:
    """Everything that determines an audit's results (stored in run.json; resuming requires the same config)."""

    data: str
    attr: tuple[str, ...]
    normalizers: tuple[str, ...] = ("none",)
    classifier: str = "lenet5"
    bins: str | None = None
    source: str | None = None
    template: str | None = None
    preset: str = "default"
    repeats: int = 10
    n_train: int = 4
    n_val: int = 2
    seed: int = 0
    epochs: int = 15
    patience: int | None = 5
    lr: float = 1e-3
    balanced: bool = True
    batch_size: int = 64
    person_dependent: int = 6
    normalizer_options: dict = field(default_factory=dict)  # {normalizer: {setting: value}} (--normalizer-option)
    f1_rule: str = DEFAULT_F1_RULE  # F1 of a subject with no positives and none predicted (metrics.F1_RULES)

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> AuditConfig:
        """A config from a named preset, with explicit (non-None) overrides applied."""
        if preset not in AUDIT_PRESETS:
            raise AuditkitError(
                f"--preset (preset): unknown preset {preset!r} (choose from {', '.join(AUDIT_PRESETS)})"
            )
        values = {**AUDIT_PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
        if "normalizers" in values:
            values["normalizers"] = with_baseline(values["normalizers"])
        check_f1_rule(values.get("f1_rule", DEFAULT_F1_RULE))
        config = cls(preset=preset, **values)
        config.check()
        return config

    def check(self) -> None:
        """One-line errors for settings that would train nothing or crash later (each names its CLI flag and its
        Python keyword), checked before any work."""
        limits = {"repeats": ("--repeats", 1), "n_train": ("--train", 1), "n_val": ("--val", 1),
                  "epochs": ("--epochs", 1), "seed": ("--seed", 0)}
        for key, (flag, least) in limits.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise AuditkitError(f"{flag} ({key}): expected a whole number, got {value!r}")
            if value < least:
                raise AuditkitError(f"{flag} ({key}): must be at least {least}, got {value}")

    def identity(self) -> dict:
        """The fields that must match for a re-run to resume (paths may move; the data fingerprint is checked
        instead)."""
        d = asdict(self)
        d.pop("data")
        if not d["normalizer_options"]:
            d.pop("normalizer_options")  # audits from before the option existed still resume
        return d

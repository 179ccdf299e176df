"""auditkit: fairness audits for facial action unit recognition.

The stable public API, by concept (imported lazily, so `import auditkit` stays fast and torch-free until used):

- data: `Dataset`, `load_dataset`, `SynthConfig`, `generate` (the synthetic benchmark)
- plugins: the typed bases `Normalizer`, `Classifier` and `DatasetSource`, whose
  hooks `auditkit.contract.HOOKS` lists; `auditkit.testing.check_plugin` (the checks a plugin must pass);
  `make_normalizer`, `make_classifier`; `ModelCard` (what a pretrained model file needs beside it)
- normalizers: `DeepFNNormalizer`, `OracleNormalizer`, `normalize_dataset`
- audits, for notebooks (each returns an `AuditResult` of tidy tables): `gap`, `audit_predictions`, `audit_model`;
  the runner underneath: `AuditConfig`, `run_audit`; several audited models side by side: `compare` (a
  `ComparisonResult`); a normalized copy of a dataset: `normalize` (a `NormalizeResult`); the CLI's other commands:
  `inspect`, `plan`, `ingest`, `merge_datasets`, `generate` (synth), `build_report` (report), `describe_model`
  (describe), `available_plugins` (plugins), `ModelCard.model_json_schema()` (schema)
- results: `AuditDir` (an audit directory: its files, resume rule and results), `audit_tables`, `build_report`
- extending the statistics and the report: `register_test`, `register_comparison` (stats), `register_section`
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("auditkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "Dataset": "auditkit.data.dataset",
    "load_dataset": "auditkit.data.dataset",
    "SynthConfig": "auditkit.data.synth.generate",
    "generate": "auditkit.data.synth.generate",
    "Normalizer": "auditkit.contract",
    "Classifier": "auditkit.contract",
    "DatasetSource": "auditkit.contract",
    "make_normalizer": "auditkit.plugins",
    "make_classifier": "auditkit.plugins",
    "DeepFNNormalizer": "auditkit.normalizers.deepfn.normalizer",
    "OracleNormalizer": "auditkit.normalizers.oracle",
    "normalize_dataset": "auditkit.normalizers.apply",
    "gap": "auditkit.api",
    "AuditResult": "auditkit.api",
    "AuditConfig": "auditkit.protocol.config",
    "run_audit": "auditkit.protocol.runner",
    "audit_predictions": "auditkit.api",
    "audit_model": "auditkit.api",
    "compare": "auditkit.api",
    "normalize": "auditkit.api",
    "inspect": "auditkit.api",
    "plan": "auditkit.api",
    "precision": "auditkit.api",
    "ingest": "auditkit.api",
    "merge_datasets": "auditkit.data.merge",
    "describe_model": "auditkit.layers",
    "available_plugins": "auditkit.plugins",
    "NormalizeResult": "auditkit.api",
    "ComparisonResult": "auditkit.api",
    "ModelCard": "auditkit.classifiers.pretrained",
    "AuditDir": "auditkit.protocol.audit_dir",
    "register_test": "auditkit.stats",
    "register_comparison": "auditkit.stats",
    "register_section": "auditkit.report.sections",
    "audit_tables": "auditkit.report.tables",
    "build_report": "auditkit.report.render",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    """Resolve a public name on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for completion."""
    return sorted(__all__)

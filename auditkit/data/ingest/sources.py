"""BP4D and DISFA as dataset-source plugins (`auditkit.datasets` entry points), like the synthetic source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditkit.contract import DatasetSource
from auditkit.data.format import META_FILE
from auditkit.data.ingest import build_job, run_ingest


class _IngestedSource(DatasetSource):
    name = ""

    def load(self, out: str | Path, root: str | Path, demographics: str | Path | None = None, n_jobs: int = -1,
             **options: Any) -> Path:
        """Ingest `root` into `out` (or reuse a finished ingest there; an unfinished one resumes)."""
        out = Path(out)
        if (out / META_FILE).exists():
            return out
        run_ingest(build_job(self.name, root, demographics, **options), out, n_jobs=n_jobs)
        return out


class BP4DSource(_IngestedSource):
    """BP4D-Spontaneous from its distributed layout."""

    name = "bp4d"


class DISFASource(_IngestedSource):
    """DISFA from its distributed layout."""

    name = "disfa"

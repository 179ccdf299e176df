"""`auditkit normalize`'s job: a normalized copy of a dataset, made here or as one task on a Dask cluster, and how
close it comes to the synthetic ground truth."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from auditkit.data.dataset import Dataset, load_dataset
from auditkit.normalizers.apply import normalize_dataset, normalize_path
from auditkit.protocol.cluster import check_workers_can_read, cluster_spec, fit_threads, open_client, run_remote


def normalize_copy(data: str | Path, normalizer: str, out: str | Path, *, template: str | None, force: bool,
                   options: dict, cluster: str | None = None,
                   progress: Callable[[str, int, int | None], None] | None = None) -> Dataset:
    """Fit `normalizer` on every subject of `data` and write the normalized dataset to `out` (on the cluster when
    `cluster` or $AUDITKIT_CLUSTER names one: the fit is one task, on a GPU worker where one exists); returns it."""
    spec = cluster_spec(cluster)
    if spec:
        with open_client(spec) as client:
            check_workers_can_read(client, [data, Path(out).resolve().parent])
            run_remote(client, partial(normalize_path, template=template, force=force, options=options), str(data),
                       normalizer, str(out), gpu=True, threads=fit_threads())
    else:
        normalize_dataset(load_dataset(data), normalizer, out, template=template, force=force, options=options,
                          progress=progress)
    return load_dataset(out)


def quality_of(original: Dataset, normalized: Dataset, seed: int = 0) -> pd.DataFrame:
    """Each subject's transfer error against the ideal face (synthetic data only), the ideal drawn as the normalizer
    drew its faces: equalized by the region and on the background of its `output_domain` hook, which the normalized
    copy's provenance records."""
    from auditkit.normalizers.quality import transfer_error

    provenance = normalized.meta["provenance"]
    domain = provenance["output_domain"]
    return transfer_error(original, normalized, provenance["template"], seed=seed, region=domain["equalize"],
                          background=domain["background"])

"""Test-only audit of a pretrained model file, with and without normalizers in front of it.

Each normalizer is fitted once (template plus every tested subject), the model predicts every in-scope frame, and
the scores are compared between groups and between each normalizer and `none` on the same people. One results part
per normalizer is written as soon as it is done, so an interrupted audit resumes with the next normalizer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.classifiers.pretrained import PretrainedClassifier
from auditkit.contract import checked_transform
from auditkit.data.dataset import load_dataset
from auditkit.data.template import select_template
from auditkit.errors import AuditkitError
from auditkit.files import file_digest
from auditkit.normalizers.base import check_dataset, params_of, prepare, with_baseline
from auditkit.plugins import load, make_normalizer
from auditkit.process_state import preserved
from auditkit.protocol.audit_dir import AuditDir, code_versions
from auditkit.protocol.coverage import ingest_loss_record, sources_of
from auditkit.protocol.predictions_audit import scope_pools, score_pools
from auditkit.protocol.results import label_test_only
from auditkit.provenance import environment, run_record
from auditkit.stats.metrics import DEFAULT_F1_RULE, check_f1_rule


def audit_model(model: str | Path, data: str | Path, attr: tuple[str, ...], out: str | Path,
                normalizers: tuple[str, ...] = ("none",), card: str | Path | None = None, bins: str | None = None,
                source: str | None = None, template: str | None = None, seed: int = 0, force: bool = False,
                progress: Callable[[str, int, int], None] | None = None,
                normalizer_options: dict[str, dict] | None = None,
                cluster: str | None = None, f1_rule: str = DEFAULT_F1_RULE) -> tuple[pd.DataFrame, dict]:
    """Score `model` per group under each normalizer; write results.parquet and run.json to `out`.

    With `cluster` (a Dask scheduler address or local:N) each normalizer's fit and predictions run on a worker.
    """
    check_f1_rule(f1_rule)
    audit = AuditDir(out)
    normalizers = with_baseline(normalizers)
    classes = [load("normalizer", n) for n in normalizers]  # an unknown plugin fails before any work
    ds = load_dataset(data)
    for cls in classes:
        check_dataset(cls, ds)
    clf = PretrainedClassifier(model, card).load()  # a bad file or card fails before any work
    attrs = list(attr)
    template = (template or select_template(ds)) if len(normalizers) > 1 else None
    if template is not None and template not in set(ds.subjects["subject"]):
        raise AuditkitError(f"--template (template): unknown subject {template!r}")
    # the template is the normalizers' target identity, so it is tested under no normalizer (as in `gap`)
    pools, scope = scope_pools(ds, attrs, bins, source, exclude=(template,) if template else ())
    frames = ds.frames[ds.frames["subject"].isin(scope)]
    aus = [a for a in clf.aus if a in ds.aus and (frames[a].to_numpy() >= 0).any()]
    if not aus:
        raise AuditkitError(f"{Path(model).name}: the model's AUs ({', '.join(clf.aus)}) are not coded in {data} "
                            f"(coded: {', '.join(a for a in ds.aus if (frames[a].to_numpy() >= 0).any())})")
    classifier = f"pretrained:{Path(model).name}"
    run = {
        "data": str(data),
        "fingerprint": ds.fingerprint,
        "model": str(model),
        "model_sha256": file_digest(model),
        "config": {
            "attr": attrs,
            "normalizers": list(normalizers),
            "classifier": classifier,
            "preset": "test-only",
            "repeats": 1,
            "seed": seed,
            "n_train": 0,
            "n_val": 0,
            "bins": bins,
            "source": source,
            "card": clf.card_.to_dict(),
            **({"normalizer_options": normalizer_options} if normalizer_options else {}),
            "f1_rule": f1_rule,
        },
        "plan": {"pools": {p.name: list(p.subjects) for p in pools}, "template": template, "scope": scope, "aus": aus},
        "sources": sources_of(ds, scope),
        "code": {**code_versions(None, normalizers), "classifier:pretrained": str(PretrainedClassifier.cache_version)},
    }
    run.update(run_record(environment(None)))
    losses = ingest_loss_record(ds, pools, seed)
    if losses is not None:  # as in `gap`: frames lost at ingest reach no model, whatever model is audited
        run["ingest_losses"] = losses
    identity = ("fingerprint", "model_sha256", "config", "plan", "code")  # the same audit resumes; another is refused
    audit.open(run, identity, force)
    audit.drop_unreadable_parts()
    pending = [(i, n) for i, n in enumerate(normalizers) if not audit.part(n).exists()]
    job = {"model": str(model), "card": str(card) if card else None, "data": str(data), "seed": seed,
           "template": template, "scope": scope, "pools": pools, "aus": aus, "attrs": attrs, "classifier": classifier,
           "f1_rule": f1_rule}

    def store(name: str, results: pd.DataFrame, settings: dict) -> None:
        audit.record_normalizer(name, settings)
        audit.store_part(results, name)

    if cluster and pending:
        from auditkit.protocol import cluster as dask_cluster

        with dask_cluster.open_client(cluster) as client:
            dask_cluster.check_workers_can_read(client, [data, model])
            job["threads"] = dask_cluster.fit_threads()  # the fit's arithmetic follows the thread count
            calls = [(job, name, (normalizer_options or {}).get(name, {})) for _, name in pending]
            for (_, name, _), (results, settings) in dask_cluster.as_completed(client, score_under_normalizer, calls):
                store(name, results, settings)
    else:
        for i, name in pending:
            if progress:
                progress(f"normalizing and predicting ({name})", i, len(normalizers))
            store(name, *score_under_normalizer(job, name, (normalizer_options or {}).get(name, {}), progress))
    results = pd.concat([pd.read_parquet(audit.part(n)) for n in normalizers], ignore_index=True)
    audit.write_results(results)
    if progress:
        progress("done", len(normalizers), len(normalizers))
    return results, run


def score_under_normalizer(job: dict, name: str, options: dict,
                           progress: Callable[[str, int, int], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Fit one normalizer, run the model on every in-scope face through it and score it per group: (rows, settings).

    Takes paths and names only (the dataset and model are opened here), so it runs as well on a cluster worker.
    """
    with preserved():  # its thread count is the caller's again afterwards
        return _score(job, name, options, progress)


def _score(job: dict, name: str, options: dict,
           progress: Callable[[str, int, int], None] | None = None) -> tuple[pd.DataFrame, dict]:
    if job.get("threads"):
        import torch

        torch.set_num_threads(job["threads"])
    ds = load_dataset(job["data"])
    clf = PretrainedClassifier(job["model"], job["card"])
    scope, aus, template = job["scope"], job["aus"], job["template"]
    frames = ds.frames[ds.frames["subject"].isin(scope)]
    labels, subject_of = frames[aus].to_numpy("int8"), frames["subject"].to_numpy()
    cols = [clf.aus.index(a) for a in aus]
    by_subject = {s: ds.faces_of(s) for s in scope}
    norm = make_normalizer(name, seed=job["seed"], progress=progress, **options)
    prepare(norm, ds, template)
    norm.fit(ds.faces_of(template) if template else np.zeros((0, *ds.image_size), np.uint8), by_subject)
    proba = np.zeros((len(frames), len(aus)), np.float32)
    for s in scope:
        idx = np.flatnonzero(subject_of == s)
        proba[idx] = clf.predict_proba(checked_transform(norm, name, s, by_subject[s]))[:, cols]
    results = label_test_only(score_pools(job["pools"], labels, proba, subject_of, aus,
                                          job["f1_rule"]), job["attrs"], name, job["classifier"])
    results["environment"] = environment(None)["id"]  # where the model ran (a cluster worker, perhaps)
    return results, params_of(norm)

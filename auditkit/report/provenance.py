"""The report's provenance: what code, libraries and machines made the numbers, from run.json and the results rows."""

from __future__ import annotations

import pandas as pd

LIBRARIES = ("python", "torch", "numpy", "scikit-learn", "pandas", "scipy", "pingouin", "fairlearn")


def made_by(results: pd.DataFrame) -> pd.DataFrame:
    """Trainings (or test-only passes) per environment id and classifier runtime, from the results rows."""
    cols = [c for c in ("environment", "classifier_runtime") if c in results.columns]
    if "environment" not in cols or results.empty:
        return pd.DataFrame(columns=["environment", "classifier_runtime", "trainings"])
    keys = results[cols + ["normalizer", "task"]].drop_duplicates()
    out = keys.groupby(cols, dropna=False).size().rename("trainings").reset_index()
    if "classifier_runtime" not in out:
        out["classifier_runtime"] = None
    return out[["environment", "classifier_runtime", "trainings"]]


def _revision(git: dict | None) -> str:
    if not git:
        return "not run from a git checkout"
    return git["revision"][:12] + (" (with local changes to auditkit/)" if git.get("modified") else "")


def provenance(run: dict, counts: pd.DataFrame) -> dict:
    """Versions, revision, code versions and every environment that made results (with how many), or {} for audits
    written before environments were recorded."""
    envs = run.get("environments") or {}
    if not envs:
        return {}
    used = {str(r.environment): int(r.trainings) for r in counts.itertuples()}
    rows = []
    for key, env in envs.items():
        if used and key not in used:
            continue  # recorded (a resume with nothing left to do, say) but made no results
        versions = env.get("versions") or {}
        rows.append({"id": key, "cpu": env.get("cpu"), "cpus": env.get("cpus"), "cpu_flags": env.get("cpu_flags"),
                     "platform": env.get("platform"), "compiler": env.get("compiler"),
                     "build_flags": env.get("build_flags"), "classifier_runtime": env.get("classifier_runtime"),
                     "libraries": ", ".join(f"{k} {versions[k]}" for k in LIBRARIES if k in versions),
                     "auditkit": versions.get("auditkit"), "revision": _revision(env.get("git")),
                     "trainings": used.get(key)})
    unknown = sorted(set(used) - set(envs))
    note = ""
    if len(rows) + len(unknown) > 1:
        note = (f"These results were made in {len(rows) + len(unknown)} environments (a resumed run or cluster "
                "workers on other machines, runtimes or versions). Scores can differ between them by float rounding "
                "carried through training; each row of results.parquet names its environment.")
    unit = "test-only passes" if (run.get("config") or {}).get("preset") == "test-only" else "trainings"
    return {
        "environments": rows,
        "unit": unit,
        "unrecorded": unknown,
        "code": run.get("code") or {},
        "mixed": bool(note),
        "note": note,
    }

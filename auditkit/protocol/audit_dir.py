"""The audit directory, owned in one place: its file names, run identity and resume, parts, results, input cache.

`auditkit gap`, `audit-model` and `audit-predictions` write one through `AuditDir`; the report, the notebook API and
the CLI read it through the same class. A directory holds one audit: running the same audit again resumes it (what
is finished is kept), a different one is refused unless forced, which removes this audit's files and nothing else.
"""

from __future__ import annotations

import glob
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from auditkit.errors import AuditkitError
from auditkit.files import write_json_atomic, write_parquet_atomic
from auditkit.plugins import code_version
from auditkit.provenance import differences

RESULTS_FILE = "results.parquet"  # one row per (training, test subject, AU): the audit's results
RUN_FILE = "run.json"  # what ran: identity (configuration, dataset fingerprint, ...), plan, versions
PARTS_DIR = "parts"  # one Parquet part per finished unit of work, joined into RESULTS_FILE
NORMALIZERS_FILE = "normalizers.json"  # each normalizer's settings, as fitted (reports state them)
CACHE_DIR = "cache"  # normalized classifier inputs, per normalizer, keyed by its settings; reused on resume
FACES_DIR = "faces"  # average face per group and normalizer, for the report
REPORT_FILE = "report.html"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
MISSED_FILE = "missed_frames.parquet"  # audit-predictions: per subject, frames the tool gave no prediction for
# what an audit writes, so that --force removes exactly these (a user's own files in the folder stay)
AUDIT_FILES = (RESULTS_FILE, RUN_FILE, NORMALIZERS_FILE, MISSED_FILE, REPORT_FILE, SUMMARY_JSON, SUMMARY_MD)
AUDIT_DIRS = (PARTS_DIR, CACHE_DIR, FACES_DIR)


def _canonical(obj: object) -> object:
    """A value as it reads back from JSON (tuples become lists), so a stored identity compares equal to a new one."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _what_differs(previous: dict, run: dict, identity: tuple[str, ...]) -> str:
    """Why an existing audit is another one, in words: other code (which families), or other settings or data."""
    others = [k for k in identity if k != "code" and previous.get(k) != _canonical(run[k])]
    if previous and not others and "code" in identity:
        old, new = previous.get("code"), _canonical(run["code"])
        if not isinstance(old, dict):
            return "made by an earlier auditkit that recorded no code versions"
        changed = [f"{name} {old.get(name)} -> {new.get(name)}" for name in sorted(set(old) | set(new))
                   if old.get(name) != new.get(name)]
        return f"made by other code ({', '.join(changed)}), which this version would not reproduce"
    return f"of a different audit (other settings or data, or no readable {RUN_FILE})"


def _same_value(key: str, previous: object, now: object) -> bool:
    """Whether a stored identity value names this run's: equal, or for `code`, equal wherever the record still holds a
    version (discard_normalizer removes a normalizer's version together with everything that code made)."""
    if key == "code" and isinstance(previous, dict) and isinstance(now, dict):
        return set(previous) <= set(now) and all(now[name] == version for name, version in previous.items())
    return previous == now


def code_versions(classifier: str | None, normalizers: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    """The code versions behind an audit's results (plugins.code_version and the scoring's), flat by role:name."""
    from auditkit.provenance import modified_code
    from auditkit.stats.metrics import CACHE_VERSION as SCORING

    record: dict[str, str | None] = {f"normalizer:{n}": code_version("normalizer", n) for n in normalizers}
    if classifier is not None:
        record[f"classifier:{classifier}"] = code_version("classifier", classifier)
    record["scoring"] = str(SCORING) + modified_code(("scoring",))
    return record


def settings_key(settings: dict) -> str:
    """A short stable hash of a JSON-ready settings record (names a cache file by what produced it)."""
    text = json.dumps(_canonical(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class AuditDir:
    """One audit directory; every path into it and every read or write of its shared files goes through here."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.results = self.root / RESULTS_FILE
        self.run_file = self.root / RUN_FILE
        self.parts = self.root / PARTS_DIR
        self.cache = self.root / CACHE_DIR
        self.faces = self.root / FACES_DIR
        self.normalizers_file = self.root / NORMALIZERS_FILE
        self.missed = self.root / MISSED_FILE

    def __repr__(self) -> str:
        return f"AuditDir({str(self.root)!r})"

    def part(self, normalizer: str, key: str | None = None) -> Path:
        """parts/<normalizer>/<key>.parquet for one training; parts/<normalizer>.parquet for a test-only pass."""
        return self.parts / normalizer / f"{key}.parquet" if key is not None else self.parts / f"{normalizer}.parquet"

    # -- identity and resume -------------------------------------------------------------------------------------
    def open(self, run: dict, identity: tuple[str, ...], force: bool = False, strict: bool = False) -> bool:
        """Start or resume the audit whose run record is `run`; write it as run.json; True if resuming.

        The `identity` keys of `run` say which audit it is: the same values there resume, whatever the rest holds.
        Resuming keeps every finished part. Another audit's files are refused (one-line error) unless `force`, which
        removes them first. `run["environments"]` ({id: record}, provenance.environment) is added to those recorded
        before; resuming finished work in another environment warns in one line, or with `strict` is refused.
        """
        previous = self.read_run(missing_ok=True, corrupt_ok=True)
        same = bool(previous) and all(_same_value(k, previous.get(k), _canonical(run[k])) for k in identity)
        if not same:
            if any((self.root / name).exists() for name in (RUN_FILE, RESULTS_FILE, PARTS_DIR)) and not force:
                raise AuditkitError(f"{self.root}: holds results {_what_differs(previous, run, identity)}; use "
                                    "another --out, or --force to discard them")
            self.discard()
        elif "environments" in run:
            run["environments"] = self._merge_environments(previous.get("environments") or {}, run["environments"],
                                                           strict)
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run, self.run_file)
        return same

    def _merge_environments(self, before: dict, now: dict, strict: bool) -> dict:
        """Environments recorded so far plus this run's; says so (or refuses) when finished work came from others."""
        new = [env for key, env in now.items() if key not in before]
        if before and new and self.finished_parts():
            last = list(before.values())[-1]
            diffs = "; ".join(differences(last, new[0])) or "another environment id"
            if strict:
                raise AuditkitError(f"{self.root}: its finished results were made in another environment ({diffs}); "
                                    "--strict-reproducibility refuses to mix them: resume where they were made, or "
                                    "--force to redo them here")
            print(f"warning: {self.root}: resuming in another environment ({diffs}); results will mix both (the "
                  "`environment` column of results.parquet says which made each row; run.json records both)",
                  file=sys.stderr)
        return {**before, **now}

    def add_environments(self, environments: dict) -> None:
        """Record environments that made results (e.g. cluster workers') in run.json beside those already there."""
        run = self.read_run()
        known = run.get("environments") or {}
        if set(environments) - set(known):
            run["environments"] = {**known, **environments}
            write_json_atomic(run, self.run_file)

    def discard(self) -> None:
        """Remove every file and folder an audit writes here, and nothing else."""
        for name in AUDIT_DIRS:
            shutil.rmtree(self.root / name, ignore_errors=True)
        for name in AUDIT_FILES:
            (self.root / name).unlink(missing_ok=True)

    def discard_normalizer(self, normalizer: str) -> None:
        """Forget one normalizer's finished work, cached inputs and faces (its next run redoes them), and the code
        version run.json recorded for it: nothing made by that code is left, so newer code may resume the audit."""
        shutil.rmtree(self.parts / normalizer, ignore_errors=True)
        self.part(normalizer).unlink(missing_ok=True)
        shutil.rmtree(self.cache / normalizer, ignore_errors=True)
        self.faces_file(normalizer).unlink(missing_ok=True)
        run = self.read_run(missing_ok=True, corrupt_ok=True)
        if isinstance(run.get("code"), dict) and f"normalizer:{normalizer}" in run["code"]:
            del run["code"][f"normalizer:{normalizer}"]
            write_json_atomic(run, self.run_file)

    def read_run(self, missing_ok: bool = False, corrupt_ok: bool = False) -> dict:
        """run.json as a dict; one-line errors for a missing or corrupt file unless told to read those as {}."""
        if not self.run_file.is_file():
            if missing_ok:
                return {}
            raise AuditkitError(f"{self.run_file}: file is missing (is {self.root} an audit directory written by "
                                "`auditkit gap`?)")
        try:
            run = json.loads(self.run_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if corrupt_ok:
                return {}
            raise AuditkitError(f"{self.run_file}: not valid JSON ({exc})") from None
        if not isinstance(run, dict):
            if corrupt_ok:
                return {}
            raise AuditkitError(f"{self.run_file}: must hold a JSON object")
        return run

    # -- parts and results ---------------------------------------------------------------------------------------
    def store_part(self, rows: pd.DataFrame, normalizer: str, key: str | None = None) -> Path:
        """Write one finished unit's rows, all or nothing."""
        path = self.part(normalizer, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(rows, path)
        return path

    def finished_parts(self) -> list[Path]:
        """The stored parts, sorted; a part still being written (its hidden temporary file beside it,
        files.atomic_path) is not one, or a concurrent reader could find it renamed away mid-read."""
        return sorted(p for p in self.parts.rglob("*.parquet") if not p.name.startswith("."))

    def drop_unreadable_parts(self) -> list[Path]:
        """Delete parts that cannot be read (a torn copy, a full disk), so that their work runs again."""
        import pyarrow.parquet as pq

        dropped = []
        for part in self.finished_parts():
            try:
                pq.read_metadata(part)
            except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) for a damaged file
                print(f"warning: {part}: unreadable ({exc.__class__.__name__}); its work runs again", file=sys.stderr)
                part.unlink(missing_ok=True)
                dropped.append(part)
        return dropped

    def collect_results(self) -> pd.DataFrame:
        """All finished parts in a stable order (the same rows whatever order the work finished in)."""
        parts = self.finished_parts()
        if not parts:
            return pd.DataFrame()
        df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        keys = [c for c in ("normalizer", "task", "test_group", "subject", "au") if c in df.columns]
        return df.sort_values(keys, kind="stable").reset_index(drop=True)

    def write_results(self, results: pd.DataFrame) -> None:
        """results.parquet, all or nothing."""
        write_parquet_atomic(results, self.results)

    def read_results(self) -> pd.DataFrame:
        """results.parquet, with one-line errors for a missing, corrupt or empty file."""
        if not self.results.is_file():
            raise AuditkitError(f"{self.results}: file is missing (is {self.root} an audit directory written by "
                                "`auditkit gap`?)")
        try:
            results = pd.read_parquet(self.results)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise AuditkitError(f"{self.results}: not a readable Parquet file ({exc})") from None
        if results.empty:
            raise AuditkitError(f"{self.results}: holds no results yet (re-run the audit to finish it)")
        return results

    # -- normalizers and their inputs ----------------------------------------------------------------------------
    def record_normalizer(self, name: str, settings: dict) -> None:
        """Add a fitted normalizer's settings to normalizers.json (kept across resumed runs)."""
        try:
            records = json.loads(self.normalizers_file.read_text()) if self.normalizers_file.exists() else {}
        except json.JSONDecodeError:
            records = {}
        if not isinstance(records, dict):  # a damaged record is rebuilt; no result depends on it
            records = {}
        records[name] = settings
        write_json_atomic(records, self.normalizers_file)

    def normalizer_settings(self) -> dict[str, dict]:
        """Each normalizer's settings as fitted; {} for audits written before normalizers.json existed."""
        path = self.normalizers_file
        try:
            records = json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError as exc:
            raise AuditkitError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(records, dict) or not all(isinstance(v, dict) for v in records.values()):
            raise AuditkitError(f"{path}: expected an object of normalizer name -> settings object")
        return records

    def inputs_file(self, normalizer: str, settings: dict, size: int) -> Path:
        """Where one normalizer's faces are cached at one input size: keyed by everything that produced them.

        `settings` should hold the normalizer's own settings and the dataset fingerprint; a changed default (a new
        plugin version, say) then makes a new file rather than reusing faces the current settings would not give.
        """
        return self.cache / normalizer / f"{size}px-{settings_key(settings)}.npy"

    def find_inputs(self, normalizer: str) -> Path | None:
        """The cached input faces of one normalizer, at whatever size the classifier took (the newest if several)."""
        found = [p for p in (self.cache / normalizer).glob("*px-*.npy") if not p.name.startswith(".")]
        # audits written before the cache was keyed by settings: cache/<normalizer>-<size>px-<fingerprint>.npy
        found = found or [p for p in self.cache.glob(f"{glob.escape(normalizer)}-*px-*.npy")
                          if p.name.removeprefix(f"{normalizer}-").split("-")[0].endswith("px")]
        return max(found, key=lambda p: (p.stat().st_mtime, p.name)) if found else None

    def faces_file(self, normalizer: str) -> Path:
        """The average faces per group of one normalizer's inputs."""
        return self.faces / f"{normalizer}.npz"

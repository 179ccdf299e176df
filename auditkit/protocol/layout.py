"""The audit directory's layout: every file and folder an audit writes, named in one place.

`auditkit gap`, `audit-model` and `audit-predictions` write into it; the report, the notebook API and the CLI read it.
"""

RESULTS_FILE = "results.parquet"  # one row per (training, test subject, AU): the audit's results
RUN_FILE = "run.json"  # what ran: configuration, dataset fingerprint, plan, versions (resume checks it)
PARTS_DIR = "parts"  # one Parquet part per finished training, before they are joined into RESULTS_FILE
NORMALIZERS_FILE = "normalizers.json"  # each normalizer's settings, as fitted (reports state them)
CACHE_DIR = "cache"  # normalized classifier inputs, reused on resume
FACES_DIR = "faces"  # sample faces per normalizer for the report
REPORT_FILE = "report.html"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
MISSED_FILE = "missed_frames.parquet"  # audit-predictions: per subject, frames the tool gave no prediction for

"""Error types that the CLI turns into one-line messages and a non-zero exit."""

from __future__ import annotations

from pathlib import Path


class AuditkitError(Exception):
    """A user-facing error: its message is complete on one line, no traceback needed."""


class InputFileError(AuditkitError):
    """An input file is missing, corrupt or inconsistent; the message names the file and, where one is at fault, the
    field."""

    def __init__(self, path: str | Path, field: str | None, problem: str) -> None:
        self.path = Path(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}" + (f": {field}" if field else "")
        super().__init__(f"{where}: {problem}")


class DatasetError(InputFileError):
    """A dataset directory (or one of its files) is missing, corrupt or inconsistent."""


class ModelFileError(InputFileError):
    """A third-party model file or its model card is missing, corrupt or inconsistent."""

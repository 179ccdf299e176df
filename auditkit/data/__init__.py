"""The auditkit dataset format, its validation, and dataset sources."""

from auditkit.data.dataset import Dataset, load_dataset
from auditkit.data.format import FORMAT_VERSION, au_name

__all__ = ["Dataset", "load_dataset", "FORMAT_VERSION", "au_name"]

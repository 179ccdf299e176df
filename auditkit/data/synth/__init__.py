"""Procedural face-AU benchmark: identities, AU dynamics, capture conditions, rendering, writing."""

from auditkit.data.synth.aus import AUS, AU_NAMES

__all__ = ["AUS", "AU_NAMES"]

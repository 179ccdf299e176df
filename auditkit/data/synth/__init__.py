"""Procedural face-AU benchmark: identities, AU dynamics, capture conditions, rendering, writing."""

from auditkit.data.synth.aus import AU_NAMES, AUS

__all__ = ["AUS", "AU_NAMES"]

"""Audit outputs: tables from results.parquet (terminal now; HTML report later)."""

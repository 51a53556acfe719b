"""Data shipped with opsradar (package data, so installed copies have it too)."""

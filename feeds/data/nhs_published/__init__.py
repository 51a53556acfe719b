"""A slice of NHS England's published sitrep statistics: see README.md here."""

"""safelink package."""

"""landing package."""

"""Helpers shared by tests (imported by test modules; never test modules themselves)."""

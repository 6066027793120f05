"""Helpers shared by tests (inline frames, configurations)."""

"""Synthetic county generator: nightly source extracts with their ground truth."""

from synth.generate import GenerationResult, NightResult, generate_county

__all__ = ["GenerationResult", "NightResult", "generate_county"]

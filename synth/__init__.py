"""Synthetic county generator: nightly source extracts with their ground truth."""

from synth.generate import GENERATOR_VERSION, GenerationResult, NightResult, generate_county

__all__ = ["GENERATOR_VERSION", "GenerationResult", "NightResult", "generate_county"]

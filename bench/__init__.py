"""Benchmarks: end-to-end and per-stage timings, scaling, incremental nights, Splink comparison."""

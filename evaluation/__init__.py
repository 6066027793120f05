"""Evaluation: scoring a night against labels (a generated county's truth), apart from production code.

The label format is documented in docs/evaluation.md.
"""

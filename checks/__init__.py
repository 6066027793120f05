"""Data-quality gate: Great Expectations suites per source and file kind, quarantine, batch gate.

Entry points: :func:`checks.gate.validate_source` (per source, right after ingest) and
:func:`checks.docs.render_validation_docs` (once per night). Importing this package is cheap:
Great Expectations is imported only when a source is validated.
"""

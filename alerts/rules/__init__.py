"""The four safeguarding rules (docs/rules.md): ``detect_night`` is the stage's entry point."""

from alerts.rules.engine import DetectResult, closed_findings, detect_night

__all__ = ["DetectResult", "closed_findings", "detect_night"]

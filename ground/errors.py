"""Errors an operator can act on: the message says what went wrong and the fix; the CLI exits with its status."""

from __future__ import annotations

from ground.exit_codes import EXIT_CONFIG


class OperatorError(ValueError):
    """A condition the operator fixes (the message names it and the fix), with its exit status.

    Args:
        message: one line: what went wrong, and the fix.
        exit_code: the ``safelink`` exit status (``ground.exit_codes``).
    """

    def __init__(self, message: str, exit_code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.exit_code = exit_code

"""The ``safelink`` command's exit statuses (documented in docs/operations.md, "Exit statuses")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # an unexpected error (a bug): one line on stderr, the redacted traceback in the debug log
EXIT_CONFIG = 2  # configuration, usage or input the operator must fix (the line names the fix)
EXIT_UNDELIVERED = 3  # the night's outputs are complete but messages are still queued (mail server down)
EXIT_BUSY = 4  # another run holds this output's lock and did not finish within the wait
EXIT_NOT_READY = 5  # the drop is missing or has no _SUCCESS marker yet: run again later

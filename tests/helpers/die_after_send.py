"""``safelink`` in a process that dies (SIGKILL) right after the SMTP server accepts its first message.

The crash of issue #15 row 9: between the server's acceptance and the ledger's record, so the message is
left claimed (``sending``). Run as ``python -m tests.helpers.die_after_send <safelink arguments>``.
"""

from __future__ import annotations

import os
import signal

from alerts.smtp import Outgoing, SmtpTransport
from safelink.cli import app

_send = SmtpTransport.send


def _send_then_die(self: SmtpTransport, outgoing: Outgoing) -> None:
    _send(self, outgoing)  # the real delivery: the server has replied 250
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no commit: as a power cut or the OOM killer would


SmtpTransport.send = _send_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    app(prog_name="safelink")

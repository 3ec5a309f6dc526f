"""Child processes that stop on Ctrl-C and SIGTERM whatever their launcher ignored.

A process started in the background of a non-interactive shell inherits SIGINT ignored (and a
supervisor may ignore SIGTERM too); its children would then never see the signals the tests send
to stop `dagster dev` or a code server, and the tests would wait for nothing.
"""

from __future__ import annotations

import signal


def default_stop_signals() -> None:
    """`preexec_fn` for subprocess.Popen: SIGINT and SIGTERM do what they do by default."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)

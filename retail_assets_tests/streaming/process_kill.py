"""Start a crash worker and SIGKILL it once it reports a given amount of progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from retail_assets_tests.conftest import REPO_ROOT


def run_and_kill(args: list[str], kill_after_progress: int, timeout_s: float = 180) -> list[str]:
    """Run `python -m retail_assets_tests.streaming.crash_worker *args`; SIGKILL it after N progress lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "retail_assets_tests.streaming.crash_worker", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip())
            if sum(s.startswith("progress ") for s in seen) >= kill_after_progress:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"worker was not killed mid-run: {seen[-20:]}"
    return seen

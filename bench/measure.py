"""Run one child process and measure it: wall time, CPU time (user + sys) and peak RSS.

The child's resource usage comes from ``os.wait4`` on that child alone (the per-process
equivalent of ``getrusage(RUSAGE_CHILDREN)``), so the figures include interpreter start-up
and imports, exactly as a scheduler running the stage would pay them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Measured:
    """One child process: what it cost and what it reported."""

    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    returncode: int
    payload: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def child_env(code_root: Path | None) -> dict[str, str]:
    """Environment for a worker: put ``code_root`` (the checkout under test) first on the path.

    Args:
        code_root: a checkout of the project to benchmark, or None for this tree.
    """
    env = dict(os.environ)
    roots = [str(code_root)] if code_root else []
    roots.append(str(ROOT))
    if env.get("PYTHONPATH"):
        roots.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(roots)
    env.setdefault("POLARS_MAX_THREADS", str(os.cpu_count() or 2))
    return env


def run_worker(args: list[str], code_root: Path | None = None, timeout_s: float = 3600.0) -> Measured:
    """Run ``python -m bench.worker <args> --result <tmp>`` in a fresh process and measure it.

    Args:
        args: worker arguments (mode first).
        code_root: the checkout to benchmark (default: this tree).
        timeout_s: kill the child after this many seconds.
    """
    with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        result_path = Path(tmp) / "result.json"
        err_path = Path(tmp) / "stderr.txt"
        cmd = [sys.executable, "-m", "bench.worker", *args, "--result", str(result_path)]
        with err_path.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=str(code_root or ROOT), env=child_env(code_root),
                                    stdout=subprocess.DEVNULL, stderr=err)
            deadline = started + timeout_s
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
            wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        payload: dict[str, Any] = {}
        if result_path.exists():
            payload = json.loads(result_path.read_text(encoding="utf-8"))
        tail = err_path.read_text(encoding="utf-8", errors="replace")[-2000:] if proc.returncode else ""
    return Measured(
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        user_s=round(usage.ru_utime, 3),
        sys_s=round(usage.ru_stime, 3),
        # the child's own VmHWM when it reported one: ru_maxrss survives exec, so it would
        # include the parent's footprint at fork time
        peak_rss_mb=float(payload.get("vm_hwm_mb") or round(usage.ru_maxrss / 1024, 1)),
        returncode=proc.returncode,
        payload=payload,
        stderr_tail=tail,
    )

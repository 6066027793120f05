"""Child-process entry point for the benchmarks (``python -m bench.worker MODE ...``).

Each invocation runs one unit of work in a fresh interpreter and writes a JSON result to
``--result``; the parent (:mod:`bench.measure`) measures the process from outside.

Modes:

- ``stages``: list the night's stages in run order (as ``safelink.pipeline.run_night`` runs them).
- ``stage NAME``: run one stage (``wait``, ``ingest_<source>``, ``combine``, then every stage in
  ``STAGES_AFTER_COMBINE``) against an output folder the earlier stages already filled.
- ``full``: the whole nightly job in one process via ``run_night``. Stages not built yet (an
  ``ImportError`` / ``AttributeError`` / ``NotImplementedError``) are recorded as missing and the
  later stages still run, so the harness works on whatever stages exist and picks up the rest.
- ``splink``: the Splink 5 model of :mod:`bench.splink_compare` on a people table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("bench.worker")

MISSING_ERRORS: tuple[type[BaseException], ...] = (ImportError, AttributeError, NotImplementedError)
POST_COMBINE_FALLBACK = ["link", "detect", "send", "report"]


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _vm_hwm_mb() -> float | None:
    """This process's own peak RSS (``VmHWM``): unlike ``ru_maxrss`` it is not inherited across exec."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _night(args: argparse.Namespace) -> Any:
    from ground.settings import DEFAULT_CONFIG_DIR
    from safelink.pipeline import Night

    return Night(landing=Path(args.landing), output=Path(args.output), extract_date=dt.date.fromisoformat(args.date),
                 config_dir=Path(args.config) if args.config else DEFAULT_CONFIG_DIR,
                 processes=int(args.processes) if args.processes else None)


def _post_combine() -> list[tuple[str, Callable[[Any], dict[str, Any]]]]:
    from safelink import pipeline

    return list(getattr(pipeline, "STAGES_AFTER_COMBINE", []))


def stage_names(night: Any) -> list[str]:
    """The night's stages in the order ``run_night`` runs them.

    Args:
        night: a ``safelink.pipeline.Night``.
    """
    names = ["wait"] + [f"ingest_{s}" for s in night.sources().sources] + ["combine"]
    return names + [name for name, _ in _post_combine()]


def _stage_call(night: Any, name: str, stages_file: str = "") -> Callable[[], dict[str, Any]]:
    from safelink import pipeline

    if name == "publish":  # the DAG's last task: the summary and the completion marker, from the tasks' counts
        done = json.loads(Path(stages_file).read_text(encoding="utf-8"))
        return lambda: pipeline.stage_publish(night, done["stages"], done["durations_s"])
    if name == "wait":
        return lambda: pipeline.stage_wait(night)
    if name.startswith("ingest_"):
        return lambda: pipeline.stage_ingest_source(night, name.removeprefix("ingest_"))
    if name == "combine":
        def combine() -> dict[str, Any]:
            complete = pipeline.stage_wait(night)["complete_drop"]
            return pipeline.stage_combine(night, complete)
        return combine
    split = {"block": pipeline.stage_block, "cluster": pipeline.stage_cluster}
    if name in split:
        return lambda: split[name](night)
    if name.startswith("score_shard:"):  # one scoring shard, as one mapped Airflow task runs it
        return lambda: pipeline.stage_score_shard(night, int(name.removeprefix("score_shard:")))
    stages = dict(_post_combine())
    if name not in stages:
        raise KeyError(f"unknown stage {name!r}")
    return lambda: stages[name](night)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run_stage(night: Any, name: str, stages_file: str = "") -> dict[str, Any]:
    """Run one stage in this process and time it from inside (wall and CPU).

    Args:
        night: a ``safelink.pipeline.Night``.
        name: the stage name (``publish``: the night's summary and completion marker).
        stages_file: for ``publish``, a JSON file of the night's ``stages`` (counts) and ``durations_s``.
    """
    night.night_dir.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), _cpu()
    try:
        counts = _stage_call(night, name, stages_file)()
        status, error = "ok", ""
    except MISSING_ERRORS as exc:
        counts, status, error = {}, "missing", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a failing stage is a result, not a crash
        counts, status, error = {}, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"
    return {"stage": name, "status": status, "error": error, "wall_s": round(time.perf_counter() - t0, 3),
            "cpu_s": round(_cpu() - c0, 3), "counts": _jsonable(counts)}


class _StageLog(logging.Handler):
    """Collects ``stage %s done in %.2fs: %s`` records that ``run_night`` logs per stage."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.done: dict[str, dict[str, Any]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "stage %s done in %.2fs: %s" and isinstance(record.args, tuple) and len(record.args) == 3:
            name, secs, counts = record.args
            self.done[str(name)] = {"wall_s": float(secs), "counts": _jsonable(counts)}  # type: ignore[arg-type]


def run_full(night: Any) -> dict[str, Any]:
    """The whole nightly job in this process: ``run_night``, tolerant of stages not built yet.

    Args:
        night: a ``safelink.pipeline.Night``.
    """
    from safelink import pipeline

    expected = stage_names(night)
    handler = _StageLog()
    plog = logging.getLogger(pipeline.__name__)
    plog.setLevel(logging.INFO)
    plog.addHandler(handler)
    plog.propagate = False
    t0, c0 = time.perf_counter(), _cpu()
    stages: dict[str, dict[str, Any]] = {}
    mode = "run_night"
    try:
        summary = pipeline.run_night(night)
        for name, secs in summary.durations_s.items():
            stages[name] = {"status": "ok", "wall_s": secs, "counts": _jsonable(summary.stages.get(name, {}))}
    except Exception as exc:  # go on past stages that do not exist yet
        mode = "run_night+tolerant"
        for name, rec in handler.done.items():
            stages[name] = {"status": "ok", **rec}
        failed = next((n for n in expected if n not in stages), None)
        status = "missing" if isinstance(exc, MISSING_ERRORS) else "error"
        if failed:
            stages[failed] = {"status": status, "error": f"{type(exc).__name__}: {exc}", "wall_s": None}
        post = [n for n, _ in _post_combine()]
        if failed in post:
            for name in post[post.index(failed) + 1:]:
                res = run_stage(night, name)
                stages[name] = {k: v for k, v in res.items() if k != "stage"}
            from contextlib import suppress

            with suppress(Exception):
                pipeline.stage_publish(night, {n: s.get("counts", {}) for n, s in stages.items()},
                                       {n: s["wall_s"] for n, s in stages.items() if s.get("wall_s") is not None})
    finally:
        plog.removeHandler(handler)
    return {"mode": mode, "expected_stages": expected, "stages": stages,
            "wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(_cpu() - c0, 3),
            "complete": all(s.get("status") == "ok" for s in stages.values()) and set(expected) <= set(stages)}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(prog="python -m bench.worker")
    ap.add_argument("mode", choices=["stages", "stage", "full", "splink"])
    ap.add_argument("name", nargs="?", default="")
    ap.add_argument("--landing", default="")
    ap.add_argument("--output", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--config", default="")
    ap.add_argument("--people", default="")
    ap.add_argument("--processes", default="", help="local processes scoring the linkage shards (full mode)")
    ap.add_argument("--stages-file", default="", help="stage publish: the night's stage counts and durations (JSON)")
    ap.add_argument("--result", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out: dict[str, Any]
    if args.mode == "splink":
        from bench.splink_compare import run_splink

        out = run_splink(Path(args.people), Path(args.output))
    else:
        night = _night(args)
        if args.mode == "stages":
            out = {"stages": stage_names(night)}
        elif args.mode == "stage":
            out = run_stage(night, args.name, args.stages_file)
        else:
            out = run_full(night)
    out["vm_hwm_mb"] = _vm_hwm_mb()
    Path(args.result).write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

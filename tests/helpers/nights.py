"""Nights for the incremental and sharding tests: the sample drop ingested once, copied into a deployment;
generated drops re-dated as a later night; ``safelink`` in a fresh process."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ground.sources import SourcesConfig
from landing.ingest import ingest_drop
from tests.helpers.sample import ROOT, SAMPLE_DATE, SAMPLE_LANDING


def ingested_sample(folder: Path, sources_config: SourcesConfig) -> Path:
    """The sample drop ingested into ``folder/<date>`` (its ``landing/`` tables); returns the night's folder.

    Args:
        folder: an empty folder (a module-scoped temporary one: ingest once, copy per test).
        sources_config: the shipped sources configuration.
    """
    night = folder / SAMPLE_DATE.isoformat()
    ingest_drop(SAMPLE_LANDING, SAMPLE_DATE, sources_config, night)
    return night


def deployment_night(ingested: Path, output: Path) -> Path:
    """A copy of an ingested night's ``landing/`` tables as the night of a deployment at ``output``.

    Args:
        ingested: :func:`ingested_sample`'s night folder.
        output: the deployment's output folder.
    """
    night = output / ingested.name
    shutil.copytree(ingested / "landing", night / "landing")
    return night


def redate_drop(landing: Path, night: dt.date, day: dt.date) -> Path:
    """Night ``night``'s drop again as the drop of ``day`` (the date in every file name too), byte for byte.

    Args:
        landing: the landing root.
        night: the drop to copy.
        day: the new extract date.
    """
    src, dst = landing / night.isoformat(), landing / day.isoformat()
    dst.mkdir(parents=True, exist_ok=True)
    old, new = night.strftime("%Y%m%d"), day.strftime("%Y%m%d")
    for f in src.iterdir():
        shutil.copyfile(f, dst / f.name.replace(old, new))
    return landing


def safelink(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``safelink`` in a fresh process (no ``SAFELINK_*`` from the caller's environment); asserts exit 0.

    Args:
        *args: the command line after ``safelink``.
        env: extra environment variables.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFELINK_")}
    clean.update({"PYTHONPATH": str(ROOT), **(env or {})})
    done = subprocess.run([sys.executable, "-m", "safelink.cli", *map(str, args)], capture_output=True, text=True,
                          env=clean, cwd=ROOT, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done

"""The ``safelink`` command line: the same library calls the Airflow DAG makes."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from landing.config import ConfigError
from landing.ingest import DropIncomplete
from safelink.pipeline import Night, run_night
from safelink.settings import DEFAULT_CONFIG_DIR

app = typer.Typer(help="Safeguarding linkage: link community-health records and tell the named leads.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console(stderr=True)

DateOption = Annotated[str, typer.Option("--date", help="Extract date, YYYY-MM-DD.")]


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD", param_hint="--date") from None


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    """Configure logging (counts and stage names only: no person data is ever logged)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(name)s: %(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="Landing root holding <YYYY-MM-DD>/ drops.")],
    date: DateOption,
    output: Annotated[Path, typer.Option(help="Output folder (one folder = one deployment).")],
    config: Annotated[Path, typer.Option(help="Configuration folder.")] = DEFAULT_CONFIG_DIR,
    allow_incomplete: Annotated[bool, typer.Option(help="Run on the files present without _SUCCESS.")] = False,
) -> None:
    """Run the whole nightly job for one extract date."""
    night = Night(landing=landing, output=output, extract_date=_date(date), config_dir=config,
                  allow_incomplete=allow_incomplete)
    try:
        summary = run_night(night)
    except (ConfigError, DropIncomplete) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"outputs in [bold]{night.night_dir}[/bold]")
    for stage, seconds in summary.durations_s.items():
        console.print(f"  {stage:<24} {seconds:8.2f}s")

"""The ``safelink`` command line: the same library calls the Airflow DAG makes."""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ground.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_NOT_READY, EXIT_UNDELIVERED
from ground.settings import DEFAULT_CONFIG_DIR

if TYPE_CHECKING:
    from safelink.pipeline import Night

app = typer.Typer(help="Safeguarding linkage: link community-health records and tell the named leads.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("safelink.cli")

DateOption = Annotated[str, typer.Option("--date", help="Extract date, YYYY-MM-DD.")]


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD", param_hint="--date") from None


def debug_log_path(output: Path | None) -> Path:
    """Where tracebacks go: ``SAFELINK_DEBUG_LOG``, else ``<output>/logs/debug.log``, else a private temp file.

    Args:
        output: the deployment's output folder, when the command has one.
    """
    configured = os.environ.get("SAFELINK_DEBUG_LOG", "").strip()
    if configured:
        return Path(configured)
    if output is not None:
        return output / "logs" / "debug.log"
    return Path(tempfile.gettempdir()) / f"safelink-{os.getuid()}" / "debug.log"


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _classify(exc: BaseException, debug_log: str) -> tuple[int, str]:
    """The exit status and the one line (what went wrong, and the fix) for an exception."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from alerts.smtp import SmtpConfigError
    from ground.config import ConfigError
    from ground.errors import OperatorError
    from landing.ingest import DropIncomplete
    from safelink.pipeline import DigestsLate, UndeliveredMessages

    if isinstance(exc, ValidationError) and exc.title.endswith("Settings"):
        return EXIT_CONFIG, f"environment setting {_one_line(_settings_error(exc))}"
    if isinstance(exc, ConfigError | SmtpConfigError):
        return EXIT_CONFIG, f"configuration: {_one_line(str(exc))} (fix it, then run again; nothing was written)"
    if isinstance(exc, DropIncomplete):
        return EXIT_NOT_READY, _one_line(str(exc))
    if isinstance(exc, UndeliveredMessages | DigestsLate):
        return EXIT_UNDELIVERED, _one_line(str(exc))
    if isinstance(exc, OperatorError):
        return exc.exit_code, _one_line(str(exc))
    if isinstance(exc, PermissionError):
        return EXIT_CONFIG, (f"permission denied on {exc.filename or 'a file'}: run as the deployment's user, or "
                             "make the folder writable (or choose another --output)")
    if isinstance(exc, FileNotFoundError | FileExistsError | NotADirectoryError | IsADirectoryError):
        what = f"{exc.filename}: {exc.strerror or 'not found'}" if exc.filename else _one_line(str(exc))
        return EXIT_CONFIG, f"{what}: check the path given"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return EXIT_FAILED, (f"no space left on the device writing {exc.filename or 'an output'}: free space and "
                             "run the night again (a rerun starts it afresh)")
    if isinstance(exc, SQLAlchemyError):
        return EXIT_FAILED, (f"state database error ({type(exc).__name__}): check SAFELINK_STATE_URL and that the "
                             f"database is reachable; details (redacted) in {debug_log}")
    return EXIT_FAILED, (f"unexpected error ({type(exc).__name__}): details (redacted traceback) in {debug_log}; "
                         "please report it")


@contextmanager
def command_errors(output: Path | None) -> Iterator[Path]:
    """Run a command: tracebacks to the debug log only; every error one line on stderr and a non-zero exit.

    Args:
        output: the deployment's output folder (for the debug log's place), if the command has one.

    Yields:
        The debug log's path.
    """
    from ground.logs import attach_debug_log

    path = debug_log_path(output)
    attached = attach_debug_log(path)
    shown = str(path) if attached is not None else "the debug log (not writable: set SAFELINK_DEBUG_LOG)"
    try:
        yield path
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        log.debug("command failed", exc_info=True)
        code, line = _classify(exc, shown)
        label = "warning" if code == EXIT_UNDELIVERED else "error"
        console.print(f"[{'yellow' if label == 'warning' else 'red'}]{label}:[/] {line}", markup=True,
                      highlight=False)
        raise typer.Exit(code) from None


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    """Configure logging (counts and stage names only: no person data is ever logged); files owner-only."""
    from pydantic import ValidationError

    from ground.logs import configure_logging
    from ground.permissions import GROUP_UMASK, PRIVATE_UMASK
    from ground.settings import load_settings

    configure_logging(level="DEBUG" if verbose else None)
    try:
        settings = load_settings()
    except ValidationError as exc:
        console.print(f"[red]error:[/] environment setting {_one_line(_settings_error(exc))}", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    os.umask(GROUP_UMASK if settings.file_group else PRIVATE_UMASK)


def _settings_error(exc: Any) -> str:
    first = exc.errors()[0]
    prefix = {"CaseViewSettings": "SAFELINK_CASE_VIEW_", "OidcSettings": "SAFELINK_OIDC_",
              "SmtpSettings": "SAFELINK_SMTP_"}.get(exc.title, "SAFELINK_")
    name = prefix + "_".join(str(p) for p in first["loc"]).upper()
    return f"{name}: {first['msg']} (fix the environment variable, then run again)"


def _progress_display() -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                    transient=False)


@contextmanager
def _stage_progress(enabled: bool) -> Iterator[Callable[[str, str], None] | None]:
    """A per-stage progress display in a terminal (library logging below WARNING goes to the debug log only)."""
    if not enabled:
        yield None
        return
    from ground.logs import set_console_level

    set_console_level(logging.WARNING)
    tasks: dict[str, Any] = {}
    with _progress_display() as progress:
        def update(stage: str, event: str) -> None:
            if event == "start":
                tasks[stage] = progress.add_task(stage, total=1)
            elif stage in tasks:
                progress.update(tasks[stage], completed=1, description=f"{stage} [green]done[/]")

        yield update


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="Landing root holding <YYYY-MM-DD>/ drops.")],
    date: DateOption,
    output: Annotated[Path, typer.Option(help="Output folder (one folder = one deployment).")],
    config: Annotated[Path, typer.Option(help="Configuration folder.")] = DEFAULT_CONFIG_DIR,
    allow_incomplete: Annotated[bool, typer.Option(help="Run on the files present without _SUCCESS.")] = False,
    progress: Annotated[bool | None, typer.Option(help="Progress per stage (default: when stderr is a terminal).")]
    = None,
    shards: Annotated[int | None, typer.Option(
        min=1, max=256, help="Score the linkage shards in this many local processes (default: sharding.processes "
        "in linkage.yaml); the outputs are the same whatever the number.")] = None,
    full: Annotated[bool, typer.Option(help="Compute everything afresh: reuse nothing from earlier nights "
                                            "(the outputs are the same either way).")] = False,
) -> None:
    """Run the whole nightly job for one extract date."""
    from safelink.pipeline import Night, run_night

    night = Night(landing=landing, output=output, extract_date=_date(date), config_dir=config,
                  allow_incomplete=allow_incomplete, processes=shards, full=full)
    show = sys.stderr.isatty() if progress is None else progress
    with command_errors(output), _stage_progress(show) as on_stage:
        summary = run_night(night, progress=on_stage)
    console.print(f"outputs in [bold]{night.night_dir}[/bold]")
    for stage, seconds in summary.durations_s.items():
        console.print(f"  {stage:<24} {seconds:8.2f}s")
    if summary.undelivered:
        send = summary.stages.get("send", {})
        because = f" (last error: {send.get('last_error')})" if send.get("last_error") else ""
        console.print(f"[yellow]warning:[/] {summary.undelivered} message(s) not delivered, still queued{because}: "
                      f"the next run sends them, or run `safelink retry --output {output}` once the mail server "
                      "is reachable")
        raise typer.Exit(EXIT_UNDELIVERED)


def _state_url(output: Path) -> str:
    from ground.settings import load_settings
    from ground.state import default_state_url

    return load_settings().state_url or default_state_url(output)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder for landing/<date>/ and truth/<date>/.")],
    date: DateOption,
    households: Annotated[int, typer.Option(min=1, help="Households in the county.")] = 150,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 1,
    nights: Annotated[int, typer.Option(min=1, help="Consecutive nightly drops.")] = 1,
) -> None:
    """Generate a synthetic county in the contract's seven layouts, with its ground truth."""
    from synth import generate_county

    with command_errors(None):
        result = generate_county(out, _date(date), households, seed, nights)
    console.print(f"{result.people} people in {households} households, {nights} night(s)")
    console.print(f"  landing: [bold]{out / 'landing'}[/bold]   truth: [bold]{out / 'truth'}[/bold]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's county and outputs.")] = Path("out/demo"),
    households: Annotated[int, typer.Option(min=1)] = 300,
    date: DateOption = "2026-11-25",
    seed: int = 7,
) -> None:
    """Generate a small county and run everything on the embedded defaults (SQLite, outbox folder)."""
    from evaluation.scoring import score_run
    from safelink.pipeline import Night, run_night
    from synth import generate_county

    extract_date = _date(date)
    county = out / "county"
    night = Night(landing=county / "landing", output=out / "output", extract_date=extract_date)
    with command_errors(out / "output"):
        generate_county(county, extract_date, households, seed, nights=1)
        run_night(night)
        scores = score_run(county / "truth" / extract_date.isoformat(), night.night_dir)
    console.print(f"\n[bold]Outputs for {extract_date}[/bold] in {night.night_dir}")
    for name in ("person_links.csv", "findings.csv", "report.html", "outbox", "checks/quarantine.csv",
                 "run_summary.json"):
        console.print(f"  {night.night_dir / name}")
    console.print(f"  state database: {night.state}")
    console.print(f"  synthetic drop: {county / 'landing'}  (truth in {county / 'truth'})")
    _print_scores(scores)
    _print_case_view(night)


def _print_case_view(night: Night) -> None:
    """Demo accounts for the case view (random passwords, printed once) and how to start it."""
    import polars as pl

    from alerts.leads import load_leads, route_finding
    from caseview.accounts import demo_account
    from ground.state import open_state

    leads = load_leads(night.config_dir)
    routed: dict[str, int] = {}
    for routes in pl.read_parquet(night.night_dir / "findings.parquet")["routes"].to_list():
        for key in route_finding(list(routes or []), leads):
            routed[key] = routed.get(key, 0) + 1
    engine = open_state(night.state)
    try:
        accounts = [demo_account(engine, "designated.demo@nhs.net", "designated")]
        if routed:
            lead = max(sorted(routed), key=lambda k: routed[k])
            accounts.append(demo_account(engine, "lead.demo@nhs.net", "lead", lead))
        accounts.append(demo_account(engine, "engineer.demo@nhs.net", "engineer"))
    finally:
        engine.dispose()
    console.print("\n[bold]Case view[/bold] (leads respond, designated professionals review, chronologies):")
    console.print(f"  safelink serve --output {night.output}     then open http://127.0.0.1:8000/", soft_wrap=True)
    for user, password in accounts:
        who = f"lead {user.lead_key}" if user.lead_key else user.role
        console.print(f"  {who:<20} {user.email:<26} password {password}", soft_wrap=True)
    console.print("  (demo accounts on the demo output only; new passwords each time the demo runs)", soft_wrap=True)


def _print_scores(scores: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("measure", "precision", "recall", "in truth", "in run")
    rows = [(f"rule {name}", row) for name, row in scores.get("rules", {}).items()]
    if "linkage" in scores:
        rows.append(("linkage (record pairs)", scores["linkage"]))
    for name, row in rows:
        table.add_row(name, f"{row['precision']:.4f}", f"{row['recall']:.4f}",
                      str(row.get("truth", row.get("true_pairs", ""))), str(row.get("run", row.get("run_pairs", ""))))
    Console().print(table)


@app.command()
def score(
    truth: Annotated[Path, typer.Option(help="Truth folder (persons.csv, findings.csv).")],
    run: Annotated[Path, typer.Option("--run", help="The night's output folder (<output>/<date>).")],
) -> None:
    """Per-rule precision/recall of findings.csv and pairwise linkage P/R of person_links.csv."""
    from evaluation.scoring import score_run
    from ground.outputs import require_complete

    with command_errors(None):
        require_complete(run)
        scores = score_run(truth, run)
    _print_scores(scores)


@app.command()
def train(
    night: Annotated[list[Path], typer.Option(help="Night folder(s) whose landing/people.parquet to fit on.")],
    out: Annotated[Path | None, typer.Option(
        help="Where to write the model: a folder (default <output>/models) or a .json file.")] = None,
    activate: Annotated[bool, typer.Option(
        help="Make it the deployment's model (<output>/models/active.json) once written.")] = False,
    config: Annotated[Path, typer.Option(help="Configuration folder.")] = DEFAULT_CONFIG_DIR,
) -> None:
    """Fit the linkage model to the deployment's own records; write a versioned model with its provenance."""
    from linkage import train_model
    from linkage.calibrate import FitError
    from linkage.models import activate as make_active

    models_dir = night[-1].resolve().parent / "models"
    try:
        path = train_model([n / "landing" / "people.parquet" for n in night], out or models_dir, config)
    except FitError as err:
        console.print(f"[red]model refused[/red]: {err}. Fit on more nights, or keep the current model.")
        raise typer.Exit(2) from None
    console.print(f"model written to [bold]{path}[/bold]")
    if activate:
        make_active(models_dir, path, "activated by safelink train --activate")
        console.print(f"active for the nights of [bold]{models_dir.parent}[/bold]")
    else:
        console.print("review it, then run again with --activate to make it score the coming nights")


@app.command("activate-model")
def activate_model(
    model: Annotated[Path, typer.Argument(help="A model JSON (e.g. a candidate from the retrain DAG).")],
    output: Annotated[Path, typer.Option(help="The deployment's output folder.")],
) -> None:
    """Make a reviewed model score the deployment's coming nights (<output>/models/active.json)."""
    from linkage.models import activate

    try:
        activate(output / "models", model, "activated by safelink activate-model")
    except (OSError, ValueError, KeyError) as err:
        console.print(f"[red]cannot activate[/red] {model.name}: {err}. Name a model JSON written by safelink train.")
        raise typer.Exit(2) from None
    console.print(f"{model.name} now scores the nights of [bold]{output}[/bold]")


review_app = typer.Typer(help="Clerical review of uncertain links.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("import")
def review_import(
    file: Annotated[Path, typer.Argument(help="The marked review CSV.")],
    output: Annotated[Path, typer.Option(help="The deployment's output folder (its state database).")],
    reviewer: Annotated[str, typer.Option(help="Who reviewed (recorded in the audit trail).")] = "reviewer",
) -> None:
    """Record a reviewer's decisions; the next night honours them (force-link / force-split)."""
    from report import import_review

    with command_errors(output):
        result = import_review(file, _state_url(output), reviewer, output_dir=output)
    console.print(f"decisions recorded: {result}")


@app.command()
def retry(
    output: Annotated[Path, typer.Option(help="The deployment's output folder.")],
    config: Annotated[Path, typer.Option(help="Configuration folder.")] = DEFAULT_CONFIG_DIR,
) -> None:
    """Send the messages still queued (each at most once, barring a crash mid-send: docs/operations.md)."""
    from alerts import retry_outbox
    from safelink.metrics import emit_gauges, statsd_target_from_settings

    with command_errors(output):
        result = retry_outbox(output, config, _state_url(output))
        target = statsd_target_from_settings()
        if target is not None:  # the night's undelivered gauge, as it stands after this retry
            emit_gauges({"undelivered": result.still_queued}, target)
    if result.stuck_claims:
        console.print(f"[yellow]warning:[/] {result.stuck_claims} message(s) had been claimed by a run that stopped "
                      "before recording the result: sent again now (one may arrive twice, with the same Message-ID)")
    if result.claimed_elsewhere:
        console.print(f"{result.claimed_elsewhere} message(s) claimed by another run less than "
                      "SAFELINK_SMTP_CLAIM_TIMEOUT ago: left to it (if that run died, the next retry after the claim "
                      "expires sends them, with the same Message-ID)")
    console.print(f"sent {result.sent}, written {result.written}, failed {result.failed}, "
                  f"refused {result.refused}, stuck claims {result.stuck_claims}, still queued {result.still_queued}")
    if result.still_queued:
        if result.last_error or result.still_queued > result.claimed_elsewhere:
            because = f" (last error: {result.last_error})" if result.last_error else ""
            fix = "run `safelink retry` again once the mail server is reachable"
        else:
            because, fix = " (claimed by another run)", "run `safelink retry` again after the claim expires"
        console.print(f"[yellow]warning:[/] {result.still_queued} message(s) still queued{because}: {fix}")
        raise typer.Exit(EXIT_UNDELIVERED)



@app.command("check-delivered")
def check_delivered(
    output: Annotated[Path, typer.Option(help="The deployment's output folder.")],
    date: DateOption,
    due: Annotated[str, typer.Option(help="The due time, for the message (the time you run this check).")] = "07:00",
) -> None:
    """Check a night's digests were all sent (what the 07:00 DAG checks): exit 3 with the reason if not."""
    from safelink.pipeline import Night, stage_check_delivered

    day = _date(date)
    with command_errors(output if output.is_dir() else None):
        _require_output(output)
        night = Night(landing=output, output=output, extract_date=day, state_url=_state_url(output))
        counts = stage_check_delivered(night, due)
    console.print(f"digests for {day} all delivered: sent {counts['sent']}, written {counts['written']}")


@app.command()
def serve(
    output: Annotated[Path, typer.Option(help="The deployment's output folder (its nights and state database).")],
    host: Annotated[str, typer.Option(help="Address to listen on (behind a TLS proxy in production).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    config: Annotated[Path, typer.Option(help="Configuration folder (leads.yaml).")] = DEFAULT_CONFIG_DIR,
    proxy: Annotated[str, typer.Option(help="Addresses of the TLS proxy trusted for X-Forwarded-* headers.")
                     ] = "127.0.0.1",
) -> None:
    """Serve the case view (leads respond, designated professionals review, chronologies) on the state database."""
    import uvicorn

    from caseview.app import create_app

    with command_errors(output if output.is_dir() else None):
        _require_output(output)
        _require_free_port(host, port)
        web = create_app(output, _state_url(output), config)
    console.print(f"case view on [bold]http://{host}:{port}/[/bold] for {output}")
    uvicorn.run(web, host=host, port=port, proxy_headers=True, forwarded_allow_ips=proxy, log_level="warning")


def _require_output(output: Path) -> None:
    from ground.errors import OperatorError

    if not output.is_dir():
        raise OperatorError(f"{output} is not a folder: give the deployment's output folder (where `safelink run` "
                            "writes its nights)")


def _require_free_port(host: str, port: int) -> None:
    """Refuse, in one line, an address this machine cannot listen on (uvicorn would log and exit 1)."""
    import socket

    from ground.errors import OperatorError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise OperatorError(f"--host {host} is not an address of this machine: give an IP address or a host name "
                            "it can listen on (127.0.0.1 behind a TLS proxy)") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise OperatorError(f"cannot listen on {host}:{port} ({exc.strerror or type(exc).__name__}): stop what "
                                "is using the port, or choose another --port") from None


users_app = typer.Typer(help="Case view accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The account's e-mail address (its sign-in name).")],
    role: Annotated[str, typer.Option(help="lead | designated | engineer.")],
    output: Annotated[Path, typer.Option(help="The deployment's output folder (its state database).")],
    lead: Annotated[str | None, typer.Option(help="For a lead: the lead's key in leads.yaml.")] = None,
    config: Annotated[Path, typer.Option(help="Configuration folder (leads.yaml).")] = DEFAULT_CONFIG_DIR,
) -> None:
    """Add a case view account; the password is read from standard input (one line)."""
    from alerts.leads import load_leads
    from caseview.accounts import AccountError, add_user
    from caseview.settings import CaseViewSettings
    from ground.errors import OperatorError
    from ground.state import open_state

    with command_errors(output if output.is_dir() else None):
        _require_output(output)
        password = sys.stdin.readline().rstrip("\r\n")
        keys = set(load_leads(config).leads)
        minimum = CaseViewSettings().min_password_length
        engine = open_state(_state_url(output))
        try:
            user = add_user(engine, email, role, password, lead, keys, minimum)
        except AccountError as exc:
            raise OperatorError(str(exc)) from None
        finally:
            engine.dispose()
    console.print(f"account added: {user.email} ({user.role}{': ' + user.lead_key if user.lead_key else ''})")


if __name__ == "__main__":
    app()

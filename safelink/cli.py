"""The ``safelink`` command line: the same library calls the Airflow DAG makes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ground.config import ConfigError
from ground.settings import DEFAULT_CONFIG_DIR
from landing.ingest import DropIncomplete
from safelink.pipeline import Night, run_night

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
    from ground.logs import configure_logging

    configure_logging(level="DEBUG" if verbose else None)


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
    from synth import generate_county

    extract_date = _date(date)
    county = out / "county"
    generate_county(county, extract_date, households, seed, nights=1)
    night = Night(landing=county / "landing", output=out / "output", extract_date=extract_date)
    run_night(night)
    from evaluation.scoring import score_run

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

    _print_scores(score_run(truth, run))


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

    result = import_review(file, _state_url(output), reviewer)
    console.print(f"decisions recorded: {result}")


@app.command()
def retry(
    output: Annotated[Path, typer.Option(help="The deployment's output folder.")],
    config: Annotated[Path, typer.Option(help="Configuration folder.")] = DEFAULT_CONFIG_DIR,
) -> None:
    """Send digests still queued in the outbox (exactly once)."""
    from alerts import retry_outbox

    console.print(f"outbox: {retry_outbox(output, config, _state_url(output))}")


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

    _require_output(output)
    try:
        web = create_app(output, _state_url(output), config)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"case view on [bold]http://{host}:{port}/[/bold] for {output}")
    uvicorn.run(web, host=host, port=port, proxy_headers=True, forwarded_allow_ips=proxy, log_level="warning")


def _require_output(output: Path) -> None:
    if not output.is_dir():
        console.print(f"[red]error:[/red] {output} is not a folder: give the deployment's output folder "
                      "(where `safelink run` writes its nights)")
        raise typer.Exit(2)


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
    import sys

    from alerts.leads import load_leads
    from caseview.accounts import AccountError, add_user
    from caseview.settings import CaseViewSettings
    from ground.state import open_state

    _require_output(output)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        keys = set(load_leads(config).leads)
        engine = open_state(_state_url(output))
        try:
            user = add_user(engine, email, role, password, lead, keys, CaseViewSettings().min_password_length)
        finally:
            engine.dispose()
    except (AccountError, ConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"account added: {user.email} ({user.role}{': ' + user.lead_key if user.lead_key else ''})")

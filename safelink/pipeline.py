"""The nightly job as a sequence of stages, each one library call shared by the CLI and the DAG.

Stages exchange files in the night's folder (``<output>/<YYYY-MM-DD>``) and the state database;
each stage function returns counts only (safe for logs and Airflow XCom).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ground import outputs
from ground.config import ConfigError
from ground.layout import NightLayout
from ground.settings import DEFAULT_CONFIG_DIR, load_settings
from ground.sources import SourcesConfig, load_sources
from ground.state import default_state_url
from landing.ingest import ConservationError, check_drop, combine_sources
from safelink.metrics import StatsdTarget, emit_gauges, emit_night_metrics, statsd_target_from_settings

log = logging.getLogger(__name__)


class UndeliveredMessages(RuntimeError):
    """Messages were not delivered tonight: they stay queued for the next run or ``safelink retry``.

    Args:
        undelivered: how many messages are still queued.
        last_error: the last delivery error (no addresses, no content).
    """

    def __init__(self, undelivered: int, last_error: str = "") -> None:
        because = f" (last error: {last_error})" if last_error else ""
        super().__init__(
            f"{undelivered} message(s) not delivered, still queued{because}: the next run sends them, or run "
            "`safelink retry --output <output>` once the mail server is reachable")
        self.undelivered = undelivered


def raise_if_undelivered(send_counts: dict[str, Any]) -> None:
    """Raise :class:`UndeliveredMessages` when the send stage left messages queued.

    Args:
        send_counts: the counts :func:`stage_send` (or ``safelink retry``) returned.
    """
    undelivered = int(send_counts.get("still_queued", 0) or 0)
    if undelivered:
        raise UndeliveredMessages(undelivered, str(send_counts.get("last_error", "") or ""))


class DigestsLate(RuntimeError):
    """A night's digests were not all sent by their due time (the message says what is missing and what to do).

    Args:
        message: one line: the night, what was not sent, and the fix.
    """


def stage_check_delivered(night: Night, due: str = "07:00") -> dict[str, Any]:
    """Check, at the digests' due time, that the night's digests were built and every message delivered.

    Args:
        night: the night.
        due: the due time (Europe/London), for the message.

    Raises:
        DigestsLate: the night never reached the send stage, or some of its messages are still queued.
    """
    from alerts.digests import night_delivery

    counts = night_delivery(night.state, night.extract_date)
    counts["complete"] = int(outputs.night_complete(night.night_dir))
    day = night.extract_date.isoformat()
    if not counts["built"]:
        raise DigestsLate(f"digests for {day} not sent by {due}: the night never reached the send stage (night "
                          f"complete: {'yes' if counts['complete'] else 'no'}); see the nightly run's failure, fix "
                          "it and run the night")
    waiting = counts["queued"] + counts["sending"]
    if waiting:
        raise DigestsLate(f"digests for {day} not sent by {due}: {waiting} message(s) still queued; run "
                          "`safelink retry --output <output>` once the mail server is reachable")
    return counts


@dataclass(frozen=True)
class Night:
    """Everything a stage needs to find its inputs and outputs for one extract date."""

    landing: Path
    output: Path
    extract_date: dt.date
    config_dir: Path = DEFAULT_CONFIG_DIR
    state_url: str = ""
    allow_incomplete: bool = False
    processes: int | None = None  # local processes scoring the linkage shards (None: linkage.yaml's setting)
    full: bool = False  # compute everything afresh: no result kept from an earlier night is read or kept

    def __post_init__(self) -> None:
        # Dates are normalised at the boundary: Airflow hands a pendulum Date, which database drivers and
        # comparisons downstream do not all treat as a date.
        day = self.extract_date
        object.__setattr__(self, "extract_date", dt.date(day.year, day.month, day.day))

    @property
    def night_dir(self) -> Path:
        """``<output>/<YYYY-MM-DD>``."""
        return self.output / self.extract_date.isoformat()

    @property
    def is_full(self) -> bool:
        """Whether tonight computes everything afresh (``--full`` or ``SAFELINK_FULL_NIGHT=1``)."""
        return self.full or load_settings().full_night

    @property
    def linkage_cache(self) -> Path | None:
        """``<output>/linkage_cache``: the deployment's comparisons kept from the night before (None: full night)."""
        return None if self.is_full else self.output / "linkage_cache"

    @property
    def night_memo(self) -> Path | None:
        """``<output>/night_memo``: ingest and gate results kept from the night before (None: full night)."""
        from ground.memo import memo_dir

        return None if self.is_full else memo_dir(self.output)

    @property
    def state(self) -> str:
        """The state database URL (embedded SQLite inside the output folder unless configured)."""
        return self.state_url or load_settings().state_url or default_state_url(self.output)

    def sources(self) -> SourcesConfig:
        """The validated sources configuration."""
        return load_sources(self.config_dir / "sources.yaml")


def validate_configuration(night: Night) -> dict[str, Any]:
    """Load and validate every configuration the night will use, before anything is read or written.

    Sources, checks, linkage (settings and model), rules, leads, the information-sharing matrix and the
    SMTP settings: a typo in any of them stops the run here, not at the stage that reads it after the
    findings were written.

    Args:
        night: the night.

    Raises:
        ConfigError: a configuration file is invalid (the message names the file and the key).
        SmtpConfigError: the SMTP settings cannot work (the message names the setting).
    """
    from alerts.digests import check_demo_addresses
    from alerts.leads import load_leads
    from alerts.rules.config import load_rules
    from alerts.sharing import load_sharing
    from alerts.smtp import load_smtp_settings
    from checks.config import load_checks
    from ground.config import ConfigError
    from linkage.config import load_linkage_config

    sources = night.sources()
    load_checks(night.config_dir / "checks.yaml")
    load_linkage_config(night.config_dir)
    from linkage.model import FSModel

    model = night.config_dir / "linkage_model.json"
    if not model.is_file():
        raise ConfigError(f"{model}: linkage model not found (train one with `safelink train`, or restore the file)")
    try:
        FSModel.load(model)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{model}: not a usable linkage model ({type(exc).__name__}: {exc}); restore the shipped "
                          "file or one written by `safelink train`") from None
    rules = load_rules(night.config_dir)
    leads = load_leads(night.config_dir)
    sharing = load_sharing(night.config_dir, rules=list(rules.enabled()))
    smtp = load_smtp_settings()
    check_demo_addresses(leads, smtp)
    return {"sources": len(sources.sources), "rules": len(rules.enabled()), "leads": len(leads.leads),
            "sharing_rules": len(sharing.rules), "smtp": smtp.configured}


def stage_wait(night: Night) -> dict[str, Any]:
    """Check the drop is there (and complete unless told otherwise) and the night may run; then open it.

    Opening the night creates its folder and removes its completion marker (and any temporary file a
    killed run left): from here until :func:`stage_publish` the night reads as incomplete.

    Args:
        night: the night.

    Raises:
        DropIncomplete: no drop folder, or no ``_SUCCESS`` when it is required.
        OutOfOrderNight: a later night has already been linked.
    """
    from linkage.ids import check_night_order

    complete = check_drop(night.landing, night.extract_date, require_success=not night.allow_incomplete)
    check_night_order(night.state, night.extract_date)
    night.night_dir.mkdir(parents=True, exist_ok=True)
    outputs.start_night(night.night_dir)
    return {"complete_drop": complete}


def stage_ingest_source(night: Night, source: str) -> dict[str, Any]:
    """Ingest one source's files, then run its data-quality gate (Great Expectations suites).

    Args:
        night: the night.
        source: the source key.
    """
    from safelink.incremental import ingest_and_gate

    result, gate, reuse = ingest_and_gate(night.landing, night.extract_date, night.sources(), source,
                                          night.night_dir, night.config_dir, night.night_memo)
    return {**reuse, "source": source, "status": result.status, "people": result.people,
            "appointments": result.appointments, "mentions": result.mentions, "quarantined": result.quarantined,
            "gate": gate.status, "gate_failures": len(gate.failures), "gate_warnings": len(gate.warnings),
            "set_aside_by_checks": gate.set_aside_by_checks}


def stage_combine(night: Night, complete_drop: bool = True) -> dict[str, Any]:
    """Combine tonight's sources that passed the gate into the canonical tables; render the validation docs.

    Args:
        night: the night.
        complete_drop: whether the drop had its ``_SUCCESS`` marker.
    """
    from checks.docs import render_validation_docs
    from checks.gate import excluded_sources

    sources = night.sources()
    failed = excluded_sources(night.night_dir, list(sources.sources))
    result = combine_sources(night.night_dir, sources, complete_drop=complete_drop, exclude=failed)
    docs = render_validation_docs(night.night_dir)
    conservation: dict[str, dict[str, int | bool]] = {}
    for count in result.files:
        row = conservation.setdefault(count.source, {"rows_read": 0, "accepted": 0, "quarantined": 0,
                                                     "duplicates": 0})
        for key in ("rows_read", "accepted", "quarantined", "duplicates"):
            row[key] += getattr(count, key)
    for row in conservation.values():
        row["conserved"] = row["rows_read"] == row["accepted"] + row["quarantined"] + row["duplicates"]
        if not row["conserved"]:
            raise ConservationError(f"rows do not add up after the gate: {row}")
    return {"conservation": conservation, "people": result.people, "appointments": result.appointments,
            "mentions": result.mentions,
            "quarantined": result.quarantined, "sources_missing": result.sources_missing,
            "sources_failed": result.sources_failed, "sources_excluded_by_gate": sorted(failed),
            "complete_drop": result.complete_drop, "validation_docs": str(docs.relative_to(night.night_dir))}


def stage_link(night: Night) -> dict[str, Any]:
    """Link tonight's people records into persons and resolve mentions.

    Args:
        night: the night.
    """
    from ground.logs import adopt_library_loggers
    from linkage import link_night

    adopt_library_loggers()  # recordlinkage attaches its own stderr handler when first imported
    result = link_night(night.night_dir, night.config_dir / "linkage_model.json", night.state,
                        night.extract_date, night.config_dir, models_dir=night.output / "models",
                        processes=night.processes, cache_dir=night.linkage_cache)
    return _counts(result)


def stage_block(night: Night) -> dict[str, Any]:
    """The link stage's first step: standardise, block, choose the night's model, write the scoring shards.

    Args:
        night: the night.

    Returns:
        ``shards`` (the shard indices, for the DAG to map over), ``pairs`` and ``pairs_per_shard``.
    """
    from linkage import block_night

    plan = block_night(night.night_dir, night.config_dir / "linkage_model.json", night.extract_date,
                       night.config_dir, models_dir=night.output / "models", processes=night.processes,
                       cache_dir=night.linkage_cache)
    return {"shards": list(range(plan.shards)), "pairs": plan.pairs, "pairs_per_shard": plan.pairs_per_shard,
            "pairs_reused": plan.reused, "model_origin": plan.model["origin"], "seconds": plan.seconds}


def stage_score_shard(night: Night, shard: int) -> dict[str, Any]:
    """The link stage's second step, for one shard: compare and score its pairs with the night's model.

    Args:
        night: the night.
        shard: the shard's index (one of :func:`stage_block`'s ``shards``).
    """
    from linkage import score_shard

    return score_shard(night.night_dir, shard, night.config_dir)


def stage_cluster(night: Night) -> dict[str, Any]:
    """The link stage's last step: guards, clusters, stable person ids and mentions over every scored shard.

    Args:
        night: the night.
    """
    from linkage import cluster_night

    return _counts(cluster_night(night.night_dir, night.state, night.extract_date, night.config_dir,
                                 models_dir=night.output / "models", cache_dir=night.linkage_cache))


def stage_detect(night: Night) -> dict[str, Any]:
    """Apply the safeguarding rules.

    Args:
        night: the night.
    """
    from alerts.rules import detect_night

    return _counts(detect_night(night.night_dir, night.config_dir, night.state, night.extract_date))


def stage_send(night: Night) -> dict[str, Any]:
    """Send (or, on the embedded default, write to the outbox) one digest per lead.

    Args:
        night: the night.
    """
    from alerts.digests import night_figures, send_digests

    result = send_digests(night.night_dir, night.config_dir, night.state, night.extract_date)
    counts = _counts(result)
    # The night's figures, not this call's: a rerun builds nothing and would otherwise read all zeros.
    counts.update({"sent_this_run": result.sent, "written_this_run": result.written,
                   **night_figures(night.state, night.extract_date)})
    return counts


def stage_deliver_queued(night: Night, metrics: StatsdTarget | None = None) -> dict[str, Any]:
    """Deliver every message still queued (``safelink retry``'s library call), counts only; the ``undelivered``
    gauge is sent again with what is left, when a StatsD server is configured.

    Args:
        night: the night (its output folder and configuration).
        metrics: where to send the gauge (default: ``SAFELINK_STATSD_HOST``; none set: nothing is sent).
    """
    from alerts import retry_outbox

    counts = _counts(retry_outbox(night.output, night.config_dir, night.state))
    target = metrics if metrics is not None else statsd_target_from_settings()
    if target is not None:
        emit_gauges({"undelivered": int(counts.get("still_queued", 0) or 0)}, target)
    return counts


def stage_report(night: Night) -> dict[str, Any]:
    """Write the night's linkage report and review file.

    Args:
        night: the night.
    """
    from report import build_report

    return _counts(build_report(night.night_dir, night.config_dir, night.state, night.extract_date))


def _counts(result: Any) -> dict[str, Any]:
    """A stage result as a JSON-ready dict of counts (dataclasses or dicts)."""
    if isinstance(result, dict):
        return result
    if hasattr(result, "summary"):
        return dict(result.summary())
    from dataclasses import asdict, is_dataclass

    if is_dataclass(result) and not isinstance(result, type):
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
    return {"result": str(result)}


@dataclass
class RunSummary:
    """Counts and durations of one run (no person data)."""

    extract_date: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    durations_s: dict[str, float] = field(default_factory=dict)
    undelivered: int = 0  # messages still queued after the send stage (the CLI exits with EXIT_UNDELIVERED)

    def write(self, night_dir: Path) -> Path:
        """Write ``run_summary.json`` into the night's folder.

        Args:
            night_dir: ``<output>/<YYYY-MM-DD>``.
        """
        path = NightLayout(night_dir).run_summary
        outputs.write_json(path, self.__dict__)
        return path


def stage_publish(night: Night, stages: dict[str, dict[str, Any]], durations_s: dict[str, float],
                  metrics: StatsdTarget | None = None) -> dict[str, Any]:
    """Write ``run_summary.json``, then the night's completion marker: the last files of a run; then send the
    night's counts as StatsD metrics when a StatsD server is configured.

    Args:
        night: the night.
        stages: each stage's counts.
        durations_s: each stage's wall time in seconds.
        metrics: where to send the counts (default: ``SAFELINK_STATSD_HOST``; none set: nothing is sent).
    """
    summary = RunSummary(extract_date=night.extract_date.isoformat(), stages=stages, durations_s=durations_s)
    path = summary.write(night.night_dir)
    outputs.mark_complete(night.night_dir, {"extract_date": night.extract_date.isoformat(),
                                            "stages": sorted(stages)})
    from ground.logs import log_fields

    log.info("night complete", extra={"extract_date": night.extract_date.isoformat(),
                                      **log_fields(durations_s, "duration_s.")})
    target = metrics if metrics is not None else statsd_target_from_settings()
    sent = emit_night_metrics(stages, durations_s, target) if target is not None else {}
    return {"summary": str(path), "complete": True, "metrics_sent": len(sent)}


Progress = Callable[[str, str], None]


def _timed(summary: RunSummary, name: str, call: Callable[[], dict[str, Any]],
           progress: Progress | None = None) -> dict[str, Any]:
    if progress is not None:
        progress(name, "start")
    started = time.perf_counter()
    counts = call()
    _done(summary, name, counts, time.perf_counter() - started, progress)
    return counts


def _done(summary: RunSummary, name: str, counts: dict[str, Any], seconds: float, progress: Progress | None) -> None:
    from ground.logs import log_fields

    summary.durations_s[name] = round(seconds, 3)
    summary.stages[name] = counts
    log.info("stage done", extra={"stage": name, "duration_s": summary.durations_s[name], **log_fields(counts)})
    if progress is not None:
        progress(name, "done")


def local_processes(night: Night) -> int:
    """How many local processes the night's independent work may use: ``--shards N`` when given, else
    ``sharding.processes`` in ``linkage.yaml`` (``auto``: two, or one on a one-core machine).

    Args:
        night: the night.
    """
    if night.processes:
        return night.processes
    from linkage.config import load_linkage_config

    return load_linkage_config(night.config_dir).sharding.local_processes


def _ingest_timed(night: Night, source: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    counts = stage_ingest_source(night, source)
    return counts, time.perf_counter() - started


def drop_sizes(landing: Path, extract_date: dt.date, sources: SourcesConfig) -> dict[str, int]:
    """Each source's bytes in tonight's drop (0 when its files are absent), in configuration order.

    Args:
        landing: the landing root.
        extract_date: the night.
        sources: the sources configuration.
    """
    from landing.ingest import drop_dir

    folder = drop_dir(landing, extract_date)
    stamp = extract_date.strftime("%Y%m%d")
    sizes = {}
    for source, spec in sources.sources.items():
        paths = (folder / f.file_name(stamp) for f in spec.files)
        sizes[source] = sum(p.stat().st_size for p in paths if p.is_file())
    return sizes


#: Ingest uses a second process only for a drop of at least this many bytes per process: below it, starting a
#: process and its Great Expectations context costs about what it saves (a 10k-household drop is about 17 MB).
MIN_DROP_BYTES_PER_PROCESS = 16 * 2**20


def _ingest_workers(night: Night, sizes: dict[str, int]) -> int:
    return min(local_processes(night), sum(sizes.values()) // MIN_DROP_BYTES_PER_PROCESS)


def start_processes_early(night: Night) -> bool:
    """Start the local processes' server (:func:`ground.processes.start_server`) when tonight's ingest will use
    more than one process, so its imports (the gate's library among them) run while the night validates its
    configuration and checks the drop. Nothing when the configuration cannot be read: the configuration stage
    says why.

    Args:
        night: the night.

    Returns:
        Whether the server was started.
    """
    try:
        workers = _ingest_workers(night, drop_sizes(night.landing, night.extract_date, night.sources()))
    except (ConfigError, OSError):
        return False
    if workers <= 1:
        return False
    from ground.processes import start_server

    start_server()
    return True


def ingest_sources(night: Night, summary: RunSummary, progress: Progress | None = None) -> None:
    """Ingest and gate every source (:func:`stage_ingest_source`) into ``summary``: one after another, or, for a
    drop of at least :data:`MIN_DROP_BYTES_PER_PROCESS` per process, in :func:`local_processes` local processes
    (sources are independent). Either way the summary lists them in configuration order, a process's log records
    reach this one's handlers and a source that raised raises here.

    Args:
        night: the night.
        summary: the run's summary (each source's counts and seconds are added).
        progress: called with ``(stage, "start")`` and ``(stage, "done")``.
    """
    sources = night.sources()
    sizes = drop_sizes(night.landing, night.extract_date, sources)
    workers = _ingest_workers(night, sizes)
    if workers <= 1:
        for source in sources.sources:
            _timed(summary, f"ingest_{source}", lambda s=source: stage_ingest_source(night, s),  # type: ignore[misc]
                   progress)
        return
    from ground.processes import run_in_processes

    order = sorted(sizes, key=lambda source: sizes[source], reverse=True)  # two processes end at about one time
    for source in order:
        if progress is not None:
            progress(f"ingest_{source}", "start")
    results = dict(zip(order, run_in_processes([(_ingest_timed, (night, s)) for s in order], workers),
                       strict=True))
    for source in sources.sources:
        counts, seconds = results[source]
        _done(summary, f"ingest_{source}", counts, seconds, progress)


STAGES_AFTER_COMBINE: list[tuple[str, Callable[[Night], dict[str, Any]]]] = [
    ("link", stage_link),
    ("detect", stage_detect),
    ("send", stage_send),
    ("report", stage_report),
]


def run_night(night: Night, progress: Progress | None = None) -> RunSummary:
    """Run the whole nightly job for one extract date.

    Every configuration is validated first and the drop checked before the night's folder is created,
    so a typo or a missing drop leaves nothing behind. The run holds the output's run lock throughout
    (a second run waits ``SAFELINK_LOCK_WAIT_S``, then refuses) and creates files owner-only (or for
    ``SAFELINK_FILE_GROUP``). The completion marker is written last.

    Args:
        night: the night.
        progress: called with ``(stage, "start")`` and ``(stage, "done")`` (the CLI's progress display).

    Raises:
        RunLocked: another run kept the lock past the wait.
    """
    from ground.permissions import private_files
    from ground.run_lock import run_lock

    settings = load_settings()
    with private_files(night.output, settings.file_group), run_lock(night.output, night.state,
                                                                     settings.lock_wait_s):
        return _run_locked(night, progress)


def _run_locked(night: Night, progress: Progress | None) -> RunSummary:
    summary = RunSummary(extract_date=night.extract_date.isoformat())
    start_processes_early(night)
    _timed(summary, "configuration", lambda: validate_configuration(night), progress)
    wait = _timed(summary, "wait", lambda: stage_wait(night), progress)
    ingest_sources(night, summary, progress)
    _timed(summary, "combine", lambda: stage_combine(night, wait["complete_drop"]), progress)
    for name, stage in STAGES_AFTER_COMBINE:
        _timed(summary, name, lambda st=stage: st(night), progress)  # type: ignore[misc]
    summary.undelivered = int(summary.stages.get("send", {}).get("still_queued", 0) or 0)
    if summary.undelivered:
        log.warning("undelivered=%d last_error=%s: messages stay queued; the next run sends them, or run "
                    "`safelink retry`", summary.undelivered, summary.stages["send"].get("last_error") or "-")
    stage_publish(night, summary.stages, summary.durations_s)
    return summary

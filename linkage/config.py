"""Typed ``config/linkage.yaml``: validated on load; errors name the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ground.config import ConfigError, load_config_model
from ground.processes import resolve_processes
from ground.sources import load_sources


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_Strict):
    """Match-probability thresholds overriding the model's own (null: the model's)."""

    link: float | None = Field(default=None, gt=0, lt=1)
    review: float | None = Field(default=None, gt=0, lt=1)


class BlockingPass(_Strict):
    """One blocking pass: records agreeing on ``keys`` (or ``keys`` against ``right``) are compared.

    A key shared by more records than the cap is subdivided by ``refine`` (standardised columns, tried in
    order); ``max_block_size`` overrides ``blocking.max_block_size`` for this pass.
    """

    name: str
    keys: list[str] = Field(min_length=1)
    right: list[str] | None = None
    refine: list[str] = []
    max_block_size: int | None = Field(default=None, gt=1)


class Blocking(_Strict):
    """Candidate-pair generation."""

    max_block_size: int = Field(default=300, gt=1)
    max_pairs_per_record: float | None = Field(default=1.0, gt=0)
    passes: list[BlockingPass] | None = None


class Sharding(_Strict):
    """How tonight's candidate pairs are cut into scoring shards (docs/scaling.md).

    Shards = candidate pairs / ``pairs_per_shard`` (rounded up), at least ``processes``, at most ``max_shards``.
    ``processes: auto`` is :func:`ground.processes.resolve_processes`'s choice (two, or one on a one-core machine).
    """

    pairs_per_shard: int = Field(default=1_000_000, ge=1)
    max_shards: int = Field(default=256, ge=1, le=1024)
    processes: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = "auto"

    @property
    def local_processes(self) -> int:
        """``processes`` as a number of local processes on this machine."""
        return resolve_processes(self.processes)


class Incremental(_Strict):
    """What a night may take from the night before (:mod:`linkage.reuse`)."""

    reuse_comparisons: bool = True


class Guards(_Strict):
    """Merges a person would refuse."""

    pair_guards: list[Literal["twins", "namesake", "nhs_conflict"]] = ["twins", "namesake", "nhs_conflict"]
    namesake_min_years: int = Field(default=12, ge=1)
    nhs_verified_statuses: list[str] = ["01"]
    nhs_verified_without_status: list[str] = []
    nhs_override_evidence: float = 30.0


class Training(_Strict):
    """Fitting the model to the deployment's own records (first night, ``safelink train``)."""

    random_pairs: int = Field(default=400_000, gt=1000)
    seed: int = 1
    min_observed: int = Field(default=1000, ge=10)
    min_pass_pairs: int = Field(default=50, ge=1)
    min_expected_matches: float = Field(default=20.0, ge=0)
    prior_strength: float = Field(default=20.0, ge=0)
    max_iter: int = Field(default=500, ge=10)
    tolerance: float = Field(default=1e-4, gt=0, lt=0.1)


class Model(_Strict):
    """Which model scores a night."""

    fit_on_first_night: bool = True


class Drift(_Strict):
    """When tonight's data has moved away from the data the model was fitted on."""

    max_psi: float = Field(default=0.25, gt=0)
    max_links_per_record_change: float = Field(default=0.3, gt=0)


class Mentions(_Strict):
    """Resolution of related-people rows, named children and dependants."""

    min_confidence: float = Field(default=0.7, gt=0, le=1)
    min_margin: float = Field(default=4.0, ge=1)
    prior_in_data: float = Field(default=0.9, gt=0, lt=1)
    newborn_days: int = Field(default=14, ge=0)
    newborn_prior_in_data: float = Field(default=0.3, gt=0, lt=1)


class LinkageConfig(_Strict):
    """The whole of ``linkage.yaml``."""

    thresholds: Thresholds = Thresholds()
    dedupe_within_sources: list[str] = []
    blocking: Blocking = Blocking()
    sharding: Sharding = Sharding()
    incremental: Incremental = Incremental()
    guards: Guards = Guards()
    training: Training = Training()
    mentions: Mentions = Mentions()
    model: Model = Model()
    drift: Drift = Drift()


def load_linkage_config(config_dir: Path) -> LinkageConfig:
    """Read and validate ``linkage.yaml`` (defaults when absent).

    Args:
        config_dir: the configuration folder.

    Raises:
        ConfigError: the file breaks the schema; the message names the file and the key.
    """
    path = Path(config_dir) / "linkage.yaml"
    config = load_config_model(path, LinkageConfig, optional=True)
    registry = Path(config_dir) / "sources.yaml"
    if registry.exists():
        known = set(load_sources(registry).sources)
        for key, listed in (("dedupe_within_sources", config.dedupe_within_sources),
                            ("guards.nhs_verified_without_status", config.guards.nhs_verified_without_status)):
            for i, source in enumerate(listed):
                if source not in known:
                    raise ConfigError(f"{path}: {key}.{i}: {source!r} is not a source in sources.yaml "
                                      f"(one of {', '.join(sorted(known))})")
    return config

"""Typed configuration of the safeguarding rules (``config/rules.yaml``), validated on load.

The model is assembled from the rule registry: the shared settings of
:class:`alerts.rules.settings.RulesConfig`, and under ``rules`` one entry per registered rule, typed by
that rule's ``Settings``. The defaults reproduce docs/data-contract.md ("The five rules") exactly; the
shipped YAML spells them out so that every threshold, window and code list is visible and reviewable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, create_model

from alerts.rules.registry import RULES
from alerts.rules.settings import RulesConfig, Strict
from landing.config import load_config_model

_rule_fields: dict[str, Any] = {rule.NAME: (rule.Settings, Field(default_factory=rule.Settings)) for rule in RULES}
RULE_SETTINGS: type[Strict] = create_model("Rules", __base__=Strict, **_rule_fields)
RULES_CONFIG: type[RulesConfig] = create_model(
    "RulesConfig", __base__=RulesConfig, rules=(RULE_SETTINGS, Field(default_factory=RULE_SETTINGS))
)


def default_rules() -> RulesConfig:
    """Every rule with its defaults (what an absent ``rules.yaml`` means)."""
    return RULES_CONFIG()


def load_rules(config_dir: Path) -> RulesConfig:
    """Load and validate ``<config_dir>/rules.yaml`` (all defaults when the file is absent).

    Args:
        config_dir: the configuration folder.

    Raises:
        ConfigError: the file is invalid; the message names the file, the key and the allowed values.
    """
    return load_config_model(config_dir / "rules.yaml", RULES_CONFIG, optional=True)

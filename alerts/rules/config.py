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
from alerts.rules.settings import RulesConfig
from ground.config import ConfigError, Strict, load_config_model
from ground.sources import load_registry

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
    path = config_dir / "rules.yaml"
    config = load_config_model(path, RULES_CONFIG, optional=True)
    registry = load_registry(config_dir)
    unknown = [f"  at rules.{name}.{key}{'.' + code if key != 'flag_sources' else ''}: unknown source {code!r}; "
               f"sources.yaml names {registry.allowed()}"
               for name, settings in config.each_rule()
               for key, codes in settings.sources_named().items()
               for code in registry.unknown(codes)]
    if unknown:
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(unknown))
    return config

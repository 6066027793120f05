"""The one way configuration files are read: YAML, validated by a strict pydantic model, errors naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class Strict(BaseModel):
    """The base of every configuration model: unknown keys are refused and values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(ValueError):
    """A configuration file is invalid: the message names the file, the key and what is allowed."""


def format_validation_error(path: Path, error: ValidationError) -> str:
    """Turn a pydantic error into lines naming file, key path and what is wrong.

    Args:
        path: the configuration file.
        error: the pydantic validation error.
    """
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  at {key}: {item['msg']}")
    return "\n".join(lines)


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning syntax errors into a :class:`ConfigError` naming the file.

    Args:
        path: the YAML file.
    """
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_config_model(path: Path, model: type[ModelT], *, optional: bool = False,
                      error: type[ConfigError] = ConfigError) -> ModelT:
    """The one way every YAML configuration file is read: parse, validate, and name the file and key on error.

    Args:
        path: the YAML file.
        model: the pydantic model of the file.
        optional: an absent (or empty) file means the model's defaults.
        error: the :class:`ConfigError` subclass to raise.

    Raises:
        ConfigError: the file is missing (unless optional), not YAML, or breaks the schema.
    """
    if optional and not path.exists():
        return model()
    try:
        raw = load_yaml(path)
    except ConfigError as exc:
        raise error(str(exc)) from None
    if raw is None and optional:
        raw = {}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise error(format_validation_error(path, exc)) from None

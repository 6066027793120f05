"""Reading the compose files as ``docker compose config`` would, without a Docker engine.

Enough of Compose's interpolation for these files: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?message}`` / ``${VAR?message}`` (an error naming VAR when unset or empty), and ``$$`` for a
literal ``$``; override files merge mappings and replace everything else.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    """A required variable (``${VAR:?...}``) is not set: compose refuses to start."""


def load(name: str) -> dict[str, Any]:
    """A compose file as YAML, before interpolation.

    Args:
        name: the file's name in the repository root.
    """
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of an env file (comments and blank lines skipped).

    Args:
        path: e.g. ``.env.demo``.
    """
    pairs = [line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def variables(text: str) -> list[tuple[str, str, str]]:
    """Every ``${...}`` in a text outside comment lines: (name, operator, argument).

    Args:
        text: a compose file's text.
    """
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [(m["name"], m["op"] or "", m["arg"] or "") for m in _VAR.finditer(code) if m["name"]]


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """``value`` (any YAML node) with variables substituted as Compose does.

    Args:
        value: a node of the loaded file.
        env: the environment (and env file) compose would read.

    Raises:
        MissingVariable: a required variable is unset or empty.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        current = env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        if op.endswith("-") and unset:
            return arg
        return current or ""

    return _VAR.sub(substitute, value)


def merge(base: Any, override: Any) -> Any:
    """Compose's override semantics, enough for these files: mappings merge, everything else is replaced.

    Args:
        base: the base file's node.
        override: the override file's node.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def active_services(services: dict[str, Any], profiles: set[str]) -> dict[str, Any]:
    """The services ``up`` starts with these profiles (a service with profiles starts only when one is on).

    Args:
        services: the ``services`` mapping.
        profiles: the active profiles (``COMPOSE_PROFILES`` / ``--profile``).
    """
    return {n: s for n, s in services.items() if not s.get("profiles") or set(s["profiles"]) & profiles}


def service_env(svc: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict.

    Args:
        svc: the service's mapping.
    """
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}

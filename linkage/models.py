"""The deployment's own models: versioned files under ``<output>/models/`` and which one is active.

``<output>/models/linkage_model_<version>.json`` holds every fitted model with its provenance;
``<output>/models/active.json`` names the one that scores the nights. A deployment without an active model
scores with the starting model in ``config/`` until its first night fits one (``model.fit_on_first_night``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linkage.model import FSModel

ACTIVE = "active.json"


def model_file(models_dir: Path, version: str) -> Path:
    """Where a model version is kept.

    Args:
        models_dir: ``<output>/models``.
        version: the model's version.
    """
    return models_dir / f"linkage_model_{version}.json"


def save_versioned(model: FSModel, models_dir: Path) -> Path:
    """Write a model under its version (owner-only), never overwriting another.

    Args:
        model: the model.
        models_dir: ``<output>/models``.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    path = model_file(models_dir, model.version)
    tmp = path.with_suffix(".json.tmp")
    model.save(tmp)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def activate(models_dir: Path, path: Path, how: str) -> Path:
    """Make ``path`` the model that scores the deployment's nights.

    Args:
        models_dir: ``<output>/models``.
        path: a model file (checked to load).
        how: why it became active (kept in ``active.json``).
    """
    model = FSModel.load(path)
    models_dir.mkdir(parents=True, exist_ok=True)
    pointer = {"model": str(Path(path).resolve()), "version": model.version, "how": how,
               "activated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    tmp = models_dir / (ACTIVE + ".tmp")
    tmp.write_text(json.dumps(pointer, indent=2) + "\n", encoding="utf-8")
    tmp.replace(models_dir / ACTIVE)
    return models_dir / ACTIVE


def active(models_dir: Path | None) -> tuple[Path, dict[str, Any]] | None:
    """The active model file and its pointer, or None when the deployment has none.

    Args:
        models_dir: ``<output>/models`` (None: no deployment store).
    """
    if models_dir is None or not (models_dir / ACTIVE).exists():
        return None
    pointer = json.loads((models_dir / ACTIVE).read_text(encoding="utf-8"))
    return Path(pointer["model"]), pointer

"""Record linkage: standardise, block, compare, Fellegi–Sunter scoring, guarded clustering,
stable person ids and mention resolution.

Public entry points: :func:`link_night` (nightly, scores with a trained model) and
:func:`train_model` (EM training writing the versioned model JSON).
"""

from linkage.pipeline import LinkResult, link_night, train_model

__all__ = ["LinkResult", "link_night", "train_model"]

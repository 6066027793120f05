"""Record linkage: standardise, block, compare, Fellegi–Sunter scoring, guarded clustering,
stable person ids and mention resolution.

Public entry points: :func:`link_night` (nightly: :func:`block_night`, :func:`score_shard` over every shard,
:func:`cluster_night`; the three are also the DAG's tasks) and :func:`train_model` (fitting the versioned
model JSON).
"""

from linkage.pipeline import LinkResult, cluster_night, link_night, train_model
from linkage.shards import ShardPlan, block_night, score_shard

__all__ = ["LinkResult", "ShardPlan", "block_night", "cluster_night", "link_night", "score_shard", "train_model"]

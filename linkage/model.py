"""Fellegi–Sunter model: EM estimation on agreement-pattern counts, the versioned model JSON, scoring.

The model holds, per comparison, the m and u probability of each agreement level, the prior match
proportion λ among candidate pairs, and two thresholds on the match probability (link, review).
A comparison that is missing on either side contributes weight 0. Exact forename and surname
agreement is term-frequency adjusted: its u is the frequency of the agreeing value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ground import outputs
from linkage.compare import LEVELS, MISSING

MODEL_FORMAT = 2
TF_COMPARISONS = {"forename": ("fn", "exact"), "surname": ("sn", "exact")}


@dataclass
class FSModel:
    """A Fellegi–Sunter model (probabilities per comparison level)."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    matches_per_record: float
    link_threshold: float = 0.95
    review_threshold: float = 0.5
    version: str = "untrained"
    tf_min_u: float = 1e-4
    tf_enabled: bool = True
    u_random: dict[str, list[float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @classmethod
    def neutral(cls, link_threshold: float = 0.9, review_threshold: float = 0.5) -> FSModel:
        """A model that knows nothing yet (m leaning to agreement, u uniform): where a first fit starts from.

        Args:
            link_threshold: match probability to link at.
            review_threshold: match probability to review at.
        """
        m = {c: default_m_init(c).tolist() for c in LEVELS}
        u = {c: [1.0 / len(v)] * len(v) for c, v in LEVELS.items()}
        return cls(m=m, u=u, matches_per_record=0.5, link_threshold=link_threshold,
                   review_threshold=review_threshold, version="neutral", u_random=dict(u))

    def weights(self, comparison: str) -> np.ndarray:
        """log2(m/u) per level of one comparison.

        Args:
            comparison: comparison name.
        """
        m = np.asarray(self.m[comparison], dtype=float)
        u = np.asarray(self.u[comparison], dtype=float)
        w = np.log2(m / u)
        levels = LEVELS.get(comparison, [])
        if "exact" in levels and len(w) == len(levels):
            # names the other way round (or crossed) are no stronger evidence than the same names the right way
            ei = levels.index("exact")
            w[ei + 1:] = np.minimum(w[ei + 1:], w[ei])
        return w

    def prior_weight(self, n_records: int) -> float:
        """log2(λ / (1 − λ)) where λ is the probability that two random records match.

        λ = 2 × matches_per_record / (n − 1): expected matching pairs grow with n, all pairs with n².

        Args:
            n_records: the number of records being linked tonight.
        """
        lam = min(2.0 * self.matches_per_record / max(n_records - 1, 1), 0.5)
        return math.log2(lam / (1.0 - lam))

    def to_json(self, exact: bool = False) -> dict:
        """The model as the JSON document written to disk.

        Args:
            exact: keep every digit of m and u (a night's working copy scores exactly as the model in memory).
        """
        def r(x: float) -> float:
            return x if exact else round(x, 8)

        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "prior": {"matches_per_record": self.matches_per_record},
            "thresholds": {"link": self.link_threshold, "review": self.review_threshold},
            "term_frequency": {"enabled": self.tf_enabled, "min_u": self.tf_min_u,
                               "comparisons": {k: v[1] for k, v in TF_COMPARISONS.items()}},
            "comparisons": {
                c: {
                    "levels": LEVELS[c],
                    "m": [r(x) for x in self.m[c]],
                    "u": [r(x) for x in self.u[c]],
                    "weights": [round(float(w), 4) for w in self.weights(c)],
                    "u_random": [r(x) for x in self.u_random.get(c, self.u[c])],
                }
                for c in self.m
            },
            "info": self.info,
        }

    def save(self, path: Path, exact: bool = False) -> Path:
        """Write the model JSON.

        Args:
            path: destination file.
            exact: keep every digit (see :meth:`to_json`).
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text(path, json.dumps(self.to_json(exact), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> FSModel:
        """Read a model JSON.

        Args:
            path: the model file.
        """
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError("unsupported linkage model format")
        comps = {c: _with_new_levels(c, spec) for c, spec in doc["comparisons"].items()}
        tf = doc.get("term_frequency", {})
        return cls(
            m={c: list(v["m"]) for c, v in comps.items()},
            u={c: list(v["u"]) for c, v in comps.items()},
            matches_per_record=float(doc["prior"]["matches_per_record"]),
            link_threshold=float(doc["thresholds"]["link"]),
            review_threshold=float(doc["thresholds"]["review"]),
            version=str(doc.get("version", "unknown")),
            tf_min_u=float(tf.get("min_u", 1e-4)),
            tf_enabled=bool(tf.get("enabled", True)),
            u_random={c: list(v.get("u_random", v["u"])) for c, v in comps.items()},
            info=doc.get("info", {}),
        )


# ---------------------------------------------------------------------------------------------
# EM on agreement patterns


def pattern_counts(levels: pl.DataFrame, comparisons: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Collapse comparison vectors into unique agreement patterns with counts (fastLink-style).

    Args:
        levels: one row per pair, one int column per comparison (``-1`` missing).
        comparisons: the comparison columns, in order.

    Returns:
        ``(patterns, counts)``: int array (n_patterns × n_comparisons) and counts.
    """
    # in a fixed order: EM sums over the patterns, and floating-point sums depend on their order
    agg = levels.group_by(comparisons).agg(pl.len().alias("_n")).sort(comparisons)
    return agg.select(comparisons).to_numpy().astype(np.int64), agg["_n"].to_numpy().astype(float)


def em_fit(
    patterns: np.ndarray,
    counts: np.ndarray,
    n_levels: list[int],
    m_init: list[np.ndarray],
    u_init: list[np.ndarray],
    lam_init: float = 0.1,
    fix_u: bool = False,
    max_iter: int = 500,
    tol: float = 1e-7,
    pseudo: float = 0.5,
    m_prior_strength: float = 0.0,
) -> tuple[list[np.ndarray], list[np.ndarray], float, int]:
    """Expectation–maximisation for the two-class latent model with conditional independence.

    Missing values (``-1``) are ignorable: they contribute to neither class likelihood.

    Args:
        patterns: unique agreement patterns (n × K), level indices or -1.
        counts: how many pairs show each pattern.
        n_levels: number of levels of each comparison.
        m_init: initial m per comparison.
        u_init: initial u per comparison (kept when ``fix_u``).
        lam_init: initial match proportion.
        fix_u: keep u fixed (estimated from random pairs) and estimate only m and λ.
        max_iter: iteration cap.
        tol: stop when no parameter moves more than this.
        pseudo: additive smoothing per level (keeps rare levels away from 0).
        m_prior_strength: weight, in pairs, of a Dirichlet prior on m centred on ``m_init`` (MAP-EM): a
            small night cannot pull m far from where it started, a large one decides for itself.

    Returns:
        ``(m, u, λ, iterations)``.
    """
    n_pat, k = patterns.shape
    m = [np.asarray(x, dtype=float).copy() for x in m_init]
    u = [np.asarray(x, dtype=float).copy() for x in u_init]
    lam = lam_init
    onehots = []
    for j in range(k):
        oh = np.zeros((n_pat, n_levels[j]))
        present = patterns[:, j] >= 0
        oh[np.nonzero(present)[0], patterns[present, j]] = 1.0
        onehots.append(oh)
    prior_m = [np.asarray(x, dtype=float) * m_prior_strength for x in m_init]
    it = 0
    for step in range(1, max_iter + 1):
        it = step
        log_m = np.zeros(n_pat)
        log_u = np.zeros(n_pat)
        for j in range(k):
            log_m += onehots[j] @ np.log(m[j])
            log_u += onehots[j] @ np.log(u[j])
        a = math.log(lam) + log_m
        b = math.log(1 - lam) + log_u
        mx = np.maximum(a, b)
        g = np.exp(a - mx) / (np.exp(a - mx) + np.exp(b - mx))
        wm = g * counts
        wu = (1 - g) * counts
        new_lam = float(wm.sum() / counts.sum())
        new_lam = min(max(new_lam, 1e-9), 1 - 1e-9)
        delta = abs(new_lam - lam)
        new_m, new_u = [], []
        for j in range(k):
            cm = wm @ onehots[j] + pseudo + prior_m[j]
            nm = cm / cm.sum()
            delta = max(delta, float(np.abs(nm - m[j]).max()))
            new_m.append(nm)
            if fix_u:
                new_u.append(u[j])
            else:
                cu = wu @ onehots[j] + pseudo
                nu = cu / cu.sum()
                delta = max(delta, float(np.abs(nu - u[j]).max()))
                new_u.append(nu)
        m, u, lam = new_m, new_u, new_lam
        if delta < tol:
            break
    return m, u, lam, it


def default_m_init(comparison: str) -> np.ndarray:
    """A starting m: most mass on the best level ('exact' where there is one), little on 'different'; levels
    after 'exact' (swapped, crossed) are alternatives to it and start as likely as the level below it.

    Args:
        comparison: comparison name.
    """
    levels = LEVELS[comparison]
    n = levels.index("exact") + 1 if "exact" in levels else len(levels)
    ordered = np.linspace(0.02, 1.0, n) ** 3
    m = np.concatenate([ordered, np.full(len(levels) - n, ordered[max(n - 2, 0)])])
    return m / m.sum()


#: m and u given to a level a model was fitted without: the same on both, so the level weighs nothing until a
#: fit learns it (a model fitted before the level existed scores as it always did).
NEW_LEVEL_PROBABILITY = 1e-6


def _with_new_levels(comparison: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A model's comparison, with any level this code added after the model's own appended at no weight.

    Raises:
        ValueError: the model's levels are not the code's first levels, in order (retrain the model).
    """
    code = LEVELS.get(comparison)
    have = list(spec["levels"])
    if code is None or have == code:
        return spec
    if code[: len(have)] != have:
        raise ValueError(f"model levels for comparison {comparison!r} do not match this code: retrain the model "
                         "(safelink train)")
    extra = [NEW_LEVEL_PROBABILITY] * (len(code) - len(have))

    def grow(p: list[float]) -> list[float]:
        total = sum(p) + sum(extra)
        return [x / total for x in [*p, *extra]]

    return {**spec, "levels": code, "m": grow(spec["m"]), "u": grow(spec["u"]),
            "u_random": grow(spec.get("u_random", spec["u"]))}


# ---------------------------------------------------------------------------------------------
# scoring


def term_frequencies(records: pl.DataFrame, column: str) -> pl.DataFrame:
    """Relative frequency of each value of a column among the records.

    Args:
        records: standardised records.
        column: the column (``fn`` or ``sn``).
    """
    vals = records.select(pl.col(column)).drop_nulls()
    n = max(vals.height, 1)
    return vals.group_by(column).agg((pl.len() / n).alias("tf"))


@dataclass(frozen=True)
class Frequencies:
    """What scoring needs to know about all of tonight's records when it sees only some of them."""

    tables: dict[str, pl.DataFrame]
    n_records: int

    @classmethod
    def of(cls, records: pl.DataFrame) -> Frequencies:
        """Term frequencies of the adjusted name columns and the number of people records.

        Args:
            records: all of tonight's standardised records.
        """
        tables = {col: term_frequencies(records, col) for col, _ in TF_COMPARISONS.values() if col in records.columns}
        return cls(tables, records.filter(pl.col("source") != "~mention").height)

    def to_frame(self) -> pl.DataFrame:
        """One frame (``column``, ``value``, ``tf``) for a Parquet file; ``n_records`` goes elsewhere."""
        parts = [t.select(pl.lit(col).alias("column"), pl.col(col).alias("value"), "tf")
                 for col, t in self.tables.items()]
        empty = pl.DataFrame(schema={"column": pl.Utf8, "value": pl.Utf8, "tf": pl.Float64})
        return pl.concat(parts).sort("column", "value") if parts else empty

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, n_records: int) -> Frequencies:
        """The inverse of :meth:`to_frame`.

        Args:
            frame: ``column``, ``value``, ``tf``.
            n_records: people records tonight.
        """
        tables = {str(col): frame.filter(pl.col("column") == col).select(pl.col("value").alias(str(col)), "tf")
                  for col in frame["column"].unique(maintain_order=True).to_list()}
        return cls(tables, n_records)


def score(levels: pl.DataFrame, records: pl.DataFrame, model: FSModel,
          frequencies: Frequencies | None = None) -> pl.DataFrame:
    """Add ``w_<comparison>``, ``weight`` and ``match_probability`` to comparison levels.

    Args:
        levels: ``uid_l``, ``uid_r`` and one level column per comparison.
        records: the standardised records (at least those the pairs name).
        model: the Fellegi–Sunter model.
        frequencies: term frequencies and record count over all of tonight's records (None: from ``records``).
    """
    freq = frequencies or Frequencies.of(records)
    out = levels
    exprs = []
    for c in model.m:
        if c not in levels.columns:
            continue
        w = model.weights(c).tolist()
        expr = pl.lit(0.0)
        for i, wi in enumerate(w):
            expr = pl.when(pl.col(c) == i).then(pl.lit(wi)).otherwise(expr)
        exprs.append(pl.when(pl.col(c) == MISSING).then(0.0).otherwise(expr).alias(f"w_{c}"))
    out = out.with_columns(exprs)
    if model.tf_enabled:
        for c, (col, level) in TF_COMPARISONS.items():
            if c not in levels.columns:
                continue
            li = LEVELS[c].index(level)
            base_w = float(model.weights(c)[li])
            u_avg = (model.u_random.get(c) or model.u[c])[li]
            tf = freq.tables.get(col, pl.DataFrame(schema={col: pl.Utf8, "tf": pl.Float64}))
            vals = records.select(pl.col("uid").alias("uid_l"), pl.col(col).alias("_v"))
            adj = (pl.lit(u_avg) / pl.max_horizontal(pl.col("tf"), pl.lit(model.tf_min_u))).log(2)
            out = (
                out.join(vals, on="uid_l", how="left")
                .join(tf.rename({col: "_v"}), on="_v", how="left")
                .with_columns(
                    pl.when((pl.col(c) == li) & pl.col("tf").is_not_null())
                    .then(pl.lit(base_w) + adj)
                    .otherwise(pl.col(f"w_{c}"))
                    .alias(f"w_{c}")
                )
                .drop("_v", "tf")
            )
    wcols = [f"w_{c}" for c in model.m if c in levels.columns]
    prior = model.prior_weight(freq.n_records)
    out = out.with_columns((pl.sum_horizontal(wcols) + prior).alias("weight"))
    return out.with_columns((1.0 / (1.0 + pl.lit(2.0).pow(-pl.col("weight")))).alias("match_probability"))

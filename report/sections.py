"""The report's numbers, computed from the night's files (counts and identifiers only, no person data)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from report.inputs import NightFiles, read_csv, read_json

LINK, REVIEW = "link", "review"


def _int(x: Any) -> int:
    try:
        return int(x or 0)
    except (TypeError, ValueError):
        return 0


def prob_to_weight(p: float | None) -> float | None:
    """The match weight (log2 odds) of a match probability.

    Args:
        p: a probability strictly between 0 and 1.
    """
    if p is None or not 0.0 < p < 1.0:
        return None
    return math.log2(p / (1.0 - p))


# ---------------------------------------------------------------------------------------------
# data quality


def data_quality(night: NightFiles, sources: list[str]) -> dict[str, Any]:
    """Per-source row accounting, failed checks, gates, missing and failed sources.

    Args:
        night: the night's files.
        sources: the sources expected tonight.
    """
    out: dict[str, Any] = {"available": night.files is not None, "validation_html": night.validation_html}
    files = night.files
    per_source: list[dict[str, Any]] = []
    problem_files: list[dict[str, Any]] = []
    missing: list[str] = []
    failed: list[str] = []
    q_counts: Counter = Counter()
    reasons: list[dict[str, Any]] = []
    if night.quarantine is not None and night.quarantine.height:
        q = night.quarantine
        cols = [c for c in ("source", "reason", "check") if c in q.columns]
        if cols:
            agg = q.group_by(cols).agg(pl.len().alias("rows"))
            agg = agg.sort(["rows", *cols], descending=[True] + [False] * len(cols), nulls_last=True)
            reasons = agg.to_dicts()
        if "source" in q.columns:
            q_counts = Counter(q["source"].to_list())
    seen = files["source"].cast(pl.String).unique().sort().to_list() if files is not None else []
    all_sources = list(dict.fromkeys([*sources, *seen]))
    for src in all_sources:
        row: dict[str, Any] = {"source": src, "files": 0, "rows_read": 0, "accepted": 0, "quarantined": 0,
                               "duplicates": 0, "blank_lines": 0, "status": "not available"}
        if files is not None:
            f = files.filter(pl.col("source") == src)
            row["files"] = f.height
            for c in ("rows_read", "accepted", "quarantined", "duplicates", "blank_lines"):
                if c in f.columns:
                    row[c] = _int(f[c].sum())
            statuses = set(f["status"].to_list()) if "status" in f.columns else set()
            people = f.filter(pl.col("table") == "people") if "table" in f.columns else f.clear()
            people_status = people["status"].to_list()[0] if people.height and "status" in people.columns else None
            if f.height == 0 or statuses == {"missing"} or people_status == "missing":
                row["status"] = "missing"
                missing.append(src)
            elif people_status == "unreadable":
                row["status"] = "failed"
                failed.append(src)
            elif statuses - {"ok"}:
                row["status"] = "partial"
            else:
                row["status"] = "ok"
            for rec in f.filter(pl.col("status") != "ok").iter_rows(named=True) if "status" in f.columns else []:
                problem_files.append({"source": src, "file": rec.get("file"), "status": rec.get("status"),
                                      "message": rec.get("message") or ""})
        gate = night.gates.get(src)
        row["gate"] = None if gate is None else bool(gate.get("passed", False))
        row["failed_checks"] = len(gate.get("failures") or []) if isinstance(gate, dict) else None
        if gate is not None and not row["gate"] and src not in failed:
            failed.append(src)
            if row["status"] == "ok":
                row["status"] = "gate failed"
        row["quarantine_rows"] = q_counts.get(src, 0)
        per_source.append(row)
    gates = []
    for src, gate in sorted(night.gates.items()):
        failures = gate.get("failures") or []
        if not isinstance(failures, list):
            failures = [failures]
        gates.append({"source": src, "passed": bool(gate.get("passed", False)),
                      "failures": [_describe_failure(x) for x in failures]})
    totals = {c: sum(r[c] for r in per_source) for c in ("rows_read", "accepted", "quarantined", "duplicates")}
    out.update(per_source=per_source, problem_files=problem_files, missing=missing, failed=failed,
               reasons=reasons, gates=gates, totals=totals,
               sources_present=sum(1 for r in per_source if r["status"] not in ("missing", "failed", "not available")))
    return out


def _describe_failure(item: Any) -> str:
    """A failed check as one line (the gate's own wording; values are not shown)."""
    if isinstance(item, dict):
        parts = [str(item[k]) for k in ("check", "expectation", "column", "reason", "message") if item.get(k)]
        return " · ".join(parts) if parts else ", ".join(f"{k}={v}" for k, v in item.items() if k != "values")
    return str(item)


# ---------------------------------------------------------------------------------------------
# the model


MODEL_ORIGINS = {
    "fitted_tonight": "fitted tonight to this deployment's own records (its first night) and now its model",
    "deployment": "this deployment's own model, fitted to its records",
    "starting": "the starting model shipped in config/ (fitted to synthetic data), not fitted to this deployment",
    "starting_fallback": ("the starting model shipped in config/ (fitted to synthetic data): tonight's fit to this "
                          "deployment's records was refused"),
}


def _blocking(raw: object) -> list[dict[str, Any]]:
    """Blocking passes whose keys were too common tonight (subdivided or skipped), from ``model_check.json``."""
    if not isinstance(raw, dict):
        return []
    rows = [{"pass": str(name), **{k: _int(v.get(k)) for k in ("pairs", "cap", "block_pairs_cap", "subdivided_keys",
                                                               "skipped_keys")}}
            for name, v in raw.items() if isinstance(v, dict)]
    return [r for r in rows if r["subdivided_keys"] or r["skipped_keys"]]


def load_model(config_dir: Path, night_dir: Path | None = None) -> dict[str, Any] | None:
    """The linkage model that scored the night as levels / m / u / weights per comparison plus thresholds,
    where it came from and tonight's drift (``linkage/model_check.json``).

    Tolerates the formats seen so far: ``comparisons: {name: {levels, m, u, weights}}`` or a list of
    ``{name, levels: [{label, m, u}]}``; missing weights are computed as log2(m/u). The thresholds in
    ``linkage.yaml`` override the model's when set.

    Args:
        config_dir: the configuration folder (the starting model).
        night_dir: the night's folder (its ``linkage/model_check.json`` names the model that scored it).
    """
    found = read_json(night_dir / "linkage" / "model_check.json") if night_dir is not None else None
    check: dict[str, Any] = found if isinstance(found, dict) else {}
    facts: dict[str, Any] = check["model"] if isinstance(check.get("model"), dict) else {}
    path = Path(str(facts["path"])) if facts.get("path") else config_dir / "linkage_model.json"
    doc = read_json(path) if path.exists() else read_json(config_dir / "linkage_model.json")
    if not isinstance(doc, dict):
        return None
    comps_raw = doc.get("comparisons") or {}
    if isinstance(comps_raw, list):
        comps_raw = {str(c.get("name", i)): c for i, c in enumerate(comps_raw) if isinstance(c, dict)}
    comparisons: list[dict[str, Any]] = []
    for name, spec in comps_raw.items():
        if not isinstance(spec, dict):
            continue
        levels = spec.get("levels") or []
        if levels and isinstance(levels[0], dict):
            labels = [str(lv.get("label", lv.get("name", i))) for i, lv in enumerate(levels)]
            m = [lv.get("m") for lv in levels]
            u = [lv.get("u") for lv in levels]
            w = [lv.get("weight") for lv in levels]
        else:
            m = list(spec.get("m") or [])
            u = list(spec.get("u") or [])
            labels = [str(x) for x in levels] or [str(i) for i in range(len(m))]
            w = list(spec.get("weights") or [])
        rows = []
        for i, label in enumerate(labels):
            mi = m[i] if i < len(m) else None
            ui = u[i] if i < len(u) else None
            wi = w[i] if i < len(w) else None
            if wi is None and mi and ui:
                wi = math.log2(float(mi) / float(ui))
            rows.append({"level": label, "m": mi, "u": ui, "weight": wi})
        comparisons.append({"name": str(name), "levels": rows})
    thresholds = dict(doc.get("thresholds") or {})
    try:
        cfg = yaml.safe_load((config_dir / "linkage.yaml").read_text(encoding="utf-8")) or {}
        for k, v in (cfg.get("thresholds") or {}).items():
            if v is not None:
                thresholds[k] = v
    except (OSError, yaml.YAMLError):
        pass
    lam = doc.get("lambda")
    prior = doc.get("prior")
    prior_items = {str(k): v for k, v in prior.items() if isinstance(v, int | float | str)} if isinstance(
        prior, dict) else {}
    if isinstance(lam, int | float):
        prior_items.setdefault("lambda", lam)
    return {
        "version": str(doc.get("version", "unknown")),
        "origin": str(facts.get("origin", "")),
        "origin_text": MODEL_ORIGINS.get(str(facts.get("origin", "")), ""),
        "fitted_on": list(facts.get("fitted_on") or []),
        "refused": list(facts.get("refused") or []),
        "drift": check.get("drift") if isinstance(check.get("drift"), dict) else None,
        "blocking": _blocking(check.get("blocking")),
        "lambda": lam,
        "prior_weight": prob_to_weight(float(lam)) if isinstance(lam, int | float) else None,
        "prior": prior_items,
        "link_threshold": _float(thresholds.get("link")),
        "review_threshold": _float(thresholds.get("review")),
        "comparisons": comparisons,
    }


def _float(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# linkage


def _records(records: pl.DataFrame) -> pl.DataFrame:
    return records.with_columns(pl.col("source").cast(pl.String), pl.col("record_id").cast(pl.String),
                                pl.col("person_id").cast(pl.String))


def linkage_summary(night: NightFiles, sources: list[str]) -> dict[str, Any]:
    """Records and persons per source, the 7×7 link matrix, cluster sizes, guards, decisions.

    Args:
        night: the night's files.
        sources: the sources expected (rows and columns of the matrix).
    """
    out: dict[str, Any] = {"records_available": night.records is not None, "pairs_available": night.pairs is not None}
    if night.records is not None and {"source", "person_id"} <= set(night.records.columns):
        rec = _records(night.records)
        sizes = rec.group_by("person_id").agg(pl.len().alias("n"))
        rec = rec.join(sizes, on="person_id", how="left")
        per_source = (
            rec.group_by("source")
            .agg(pl.len().alias("records"), pl.col("person_id").n_unique().alias("persons"),
                 (pl.col("n") > 1).sum().alias("linked_records"))
            .to_dicts()
        )
        by_src = {r["source"]: r for r in per_source}
        order = [s for s in sources if s in by_src] + sorted(set(by_src) - set(sources))
        out["per_source"] = [by_src[s] for s in order]
        out["records"] = rec.height
        out["persons"] = sizes.height
        out["linked_records"] = _int(rec.filter(pl.col("n") > 1).height)
        out["link_rate"] = out["linked_records"] / rec.height if rec.height else None
        dist = sizes.group_by("n").agg(pl.len().alias("persons")).sort("n")
        out["cluster_sizes"] = dist.to_dicts()
    if night.pairs is not None:
        pairs = night.pairs
        decision = (pairs["decision"].cast(pl.String) if "decision" in pairs.columns
                    else pl.Series([None] * pairs.height, dtype=pl.String))
        guard = (pairs["guard"].cast(pl.String) if "guard" in pairs.columns
                 else pl.Series([None] * pairs.height, dtype=pl.String))
        linked = pairs.filter((decision == LINK) & guard.is_null())
        out["pairs"] = pairs.height
        out["links"] = linked.height
        out["review_pairs"] = _int((decision == REVIEW).sum())
        out["guards"] = (
            pl.DataFrame({"guard": guard}).drop_nulls().group_by("guard").agg(pl.len().alias("pairs"))
            .sort(["pairs", "guard"], descending=[True, False]).to_dicts()
        )
        out["guard_total"] = sum(g["pairs"] for g in out["guards"])
        src_all = list(dict.fromkeys([*sources, *_pair_sources(pairs)]))
        matrix = {a: dict.fromkeys(src_all, 0) for a in src_all}
        if {"source_l", "source_r"} <= set(pairs.columns):
            for a, b, n in (linked.group_by("source_l", "source_r").agg(pl.len()).iter_rows()):
                a, b = str(a), str(b)
                matrix[a][b] += n
                if a != b:
                    matrix[b][a] += n
        out["matrix_sources"] = src_all
        out["matrix"] = [[matrix[a][b] for b in src_all] for a in src_all]
        out["weights"] = pairs["weight"].drop_nulls().cast(pl.Float64).to_list() if "weight" in pairs.columns else []
    return out


def _pair_sources(pairs: pl.DataFrame) -> list[str]:
    if not {"source_l", "source_r"} <= set(pairs.columns):
        return []
    return sorted(set(pairs["source_l"].cast(pl.String).to_list()) | set(pairs["source_r"].cast(pl.String).to_list()))


def id_changes(records: pl.DataFrame | None, previous: pl.DataFrame | None) -> dict[str, int] | None:
    """Stable-ID merges and splits between last night's and tonight's ``records.parquet``.

    A merge is a person tonight holding records of several of last night's persons; a split is one of
    last night's persons whose records are now in several persons (records present on both nights).

    Args:
        records: tonight's records.
        previous: last night's records.
    """
    if records is None or previous is None:
        return None
    now = _records(records).select("source", "record_id", pl.col("person_id").alias("now"))
    was = _records(previous).select("source", "record_id", pl.col("person_id").alias("was"))
    both = now.join(was, on=["source", "record_id"], how="inner")
    merges = both.group_by("now").agg(pl.col("was").n_unique().alias("k")).filter(pl.col("k") > 1)
    splits = both.group_by("was").agg(pl.col("now").n_unique().alias("k")).filter(pl.col("k") > 1)
    kept = set(now["now"].to_list()) & set(was["was"].to_list())
    return {"merges": merges.height, "splits": splits.height, "persons_kept": len(kept),
            "persons_new": len(set(now["now"].to_list()) - set(was["was"].to_list()))}


# ---------------------------------------------------------------------------------------------
# explanations


def explanations(pairs: pl.DataFrame | None, sample_links: int = 10, max_review: int = 500) -> dict[str, Any]:
    """Waterfalls (prior, then each field's weight, summing to the total) for sample links and review pairs.

    Records are identified by source and record id only.

    Args:
        pairs: ``linkage/pairs.parquet``.
        sample_links: how many links to show (evenly spread over the weight range).
        max_review: cap on review pairs shown (all are in the review file).
    """
    if pairs is None or "weight" not in pairs.columns or "decision" not in pairs.columns:
        return {"available": False}
    wcols = [c for c in pairs.columns if c.startswith("w_")]
    links = pairs.filter(pl.col("decision") == LINK).sort("weight")
    if links.height > sample_links:
        step = (links.height - 1) / max(sample_links - 1, 1)
        links = links[[round(i * step) for i in range(sample_links)]]
    review = pairs.filter(pl.col("decision") == REVIEW).sort("weight", descending=True)
    n_review = review.height
    review = review.head(max_review)

    def waterfall(rec: dict[str, Any]) -> dict[str, Any]:
        total = float(rec["weight"])
        fields = [(c[2:], float(rec[c] or 0.0)) for c in wcols]
        prior = total - sum(w for _, w in fields)
        steps = []
        running = 0.0
        for name, w in [("prior", prior), *fields]:
            steps.append({"field": name, "weight": w, "start": running, "end": running + w})
            running += w
        return {
            "left": f"{rec.get('source_l')}:{rec.get('record_id_l')}",
            "right": f"{rec.get('source_r')}:{rec.get('record_id_r')}",
            "weight": total, "probability": rec.get("match_probability"), "decision": rec.get("decision"),
            "guard": rec.get("guard"), "steps": steps,
        }

    items_links = [waterfall(r) for r in links.iter_rows(named=True)]
    items_review = [waterfall(r) for r in review.iter_rows(named=True)]
    span = [0.0]
    for it in items_links + items_review:
        for s in it["steps"]:
            span.extend([s["start"], s["end"]])
    lo, hi = min(span), max(span)
    scale = (hi - lo) or 1.0
    for it in items_links + items_review:
        for s in it["steps"]:
            a, b = sorted([s["start"], s["end"]])
            s["left_pct"] = 100.0 * (a - lo) / scale
            s["width_pct"] = max(0.4, 100.0 * (b - a) / scale)
    return {"available": True, "links": items_links, "review": items_review, "review_total": n_review,
            "review_shown": len(items_review), "fields": [c[2:] for c in wcols],
            "zero_pct": 100.0 * (0.0 - lo) / scale}


# ---------------------------------------------------------------------------------------------
# findings


def findings_summary(findings: pl.DataFrame | None, previous: pl.DataFrame | None) -> dict[str, Any]:
    """Findings per rule: new, updated, unchanged, closed; and how many were routed to each recipient.

    Closed = a finding of last night that is absent tonight (or marked ``closed``).

    Args:
        findings: tonight's ``findings.parquet`` (or ``findings.csv``).
        previous: last night's.
    """
    if findings is None or "rule" not in findings.columns:
        return {"available": False}
    f = findings.with_columns(pl.col("rule").cast(pl.String))
    status = f["status"].cast(pl.String) if "status" in f.columns else pl.Series([None] * f.height, dtype=pl.String)
    f = f.with_columns(status.alias("_status"))
    closed_by_rule: Counter = Counter()
    if "finding_id" in f.columns and previous is not None and {"finding_id", "rule"} <= set(previous.columns):
        tonight = set(f["finding_id"].cast(pl.String).to_list())
        prev = previous.with_columns(pl.col("finding_id").cast(pl.String), pl.col("rule").cast(pl.String))
        if "status" in prev.columns:
            prev = prev.filter(pl.col("status").cast(pl.String) != "closed")
        for fid, rule in prev.select("finding_id", "rule").iter_rows():
            if fid not in tonight:
                closed_by_rule[rule] += 1
    open_f = f.filter(pl.col("_status").is_null() | (pl.col("_status") != "closed"))
    for rule in f.filter(pl.col("_status") == "closed")["rule"].to_list():
        closed_by_rule[rule] += 1
    rules = sorted(set(f["rule"].to_list()) | set(closed_by_rule))
    per_rule = []
    for rule in rules:
        r = open_f.filter(pl.col("rule") == rule)
        st = Counter(r["_status"].to_list())
        row = {"rule": rule, "open": r.height, "new": st.get("new", 0), "updated": st.get("updated", 0),
               "unchanged": st.get("unchanged", 0), "closed": closed_by_rule.get(rule, 0)}
        if "needs_confirmation" in r.columns:
            row["needs_confirmation"] = _int(r["needs_confirmation"].cast(pl.Boolean, strict=False).sum())
        per_rule.append(row)
    routes: list[dict[str, Any]] = []
    if "routes" in open_f.columns:
        col = open_f["routes"]
        rr = open_f.select("rule", col.alias("route"))
        if col.dtype == pl.String:
            rr = rr.with_columns(pl.col("route").str.split(";"))
        if isinstance(rr.schema["route"], pl.List):
            rr = rr.explode("route")
        rr = rr.with_columns(pl.col("route").cast(pl.String).str.strip_chars()).filter(
            pl.col("route").is_not_null() & (pl.col("route") != ""))
        routes = rr.group_by("route", "rule").agg(pl.len().alias("findings")).sort(
            ["route", "rule"]).to_dicts()
    return {"available": True, "per_rule": per_rule, "routes": routes,
            "total": open_f.height, "new": sum(r["new"] for r in per_rule),
            "updated": sum(r["updated"] for r in per_rule), "closed": sum(r["closed"] for r in per_rule),
            "by_rule": {r["rule"]: r["open"] for r in per_rule}}


# ---------------------------------------------------------------------------------------------
# accuracy against ground truth


def _pairs_count(df: pl.DataFrame, keys: list[str]) -> int:
    n = df.group_by(keys).agg(pl.len().alias("n"))["n"]
    return int((n * (n - 1) // 2).sum())


def accuracy(records: pl.DataFrame | None, findings: pl.DataFrame | None, truth_dir: Path | None) -> dict[str, Any]:
    """Pairwise precision and recall of the linkage, and of the findings, against ground truth.

    Args:
        records: tonight's ``linkage/records.parquet``.
        findings: tonight's findings.
        truth_dir: folder with ``persons.csv`` (and optionally ``findings.csv``).
    """
    if truth_dir is None:
        return {"available": False}
    out: dict[str, Any] = {"available": True}
    truth = read_csv(Path(truth_dir) / "persons.csv")
    person_truth: dict[str, str] = {}
    if truth is not None and records is not None:
        rec = _records(records).join(
            truth.select("source", "record_id", "true_person_id"), on=["source", "record_id"], how="inner")
        tp = _pairs_count(rec, ["person_id", "true_person_id"])
        predicted = _pairs_count(rec, ["person_id"])
        actual = _pairs_count(rec, ["true_person_id"])
        out["linkage"] = {
            "records_scored": rec.height, "true_positive_pairs": tp, "predicted_pairs": predicted,
            "true_pairs": actual, "precision": tp / predicted if predicted else None,
            "recall": tp / actual if actual else None,
        }
        major = rec.group_by("person_id", "true_person_id").agg(pl.len().alias("n")).sort(
            ["person_id", "n", "true_person_id"], descending=[False, True, False])
        person_truth = dict(major.unique("person_id", keep="first").select("person_id", "true_person_id").iter_rows())
    tf = read_csv(Path(truth_dir) / "findings.csv")
    if tf is not None and findings is not None and records is not None and "rule" in findings.columns:
        def key(rule: Any, child: Any, adult: Any) -> tuple[str, str, str]:
            return (str(rule), str(child or ""), str(adult or ""))

        truth_keys = {key(*r) for r in tf.select("rule", "child_true_person_id", "adult_true_person_id").iter_rows()}
        f = findings
        if "status" in f.columns:
            f = f.filter(pl.col("status").cast(pl.String).is_null() | (pl.col("status").cast(pl.String) != "closed"))
        ours = set()
        for rule, child, adult in f.select(
            "rule",
            (pl.col("child_person_id") if "child_person_id" in f.columns else pl.lit(None)).cast(pl.String),
            (pl.col("adult_person_id") if "adult_person_id" in f.columns else pl.lit(None)).cast(pl.String),
        ).iter_rows():
            ours.add(key(rule, person_truth.get(child, child) if child else "",
                         person_truth.get(adult, adult) if adult else ""))
        hit = len(ours & truth_keys)
        per_rule = []
        for rule in sorted({k[0] for k in ours | truth_keys}):
            o = {k for k in ours if k[0] == rule}
            t = {k for k in truth_keys if k[0] == rule}
            per_rule.append({"rule": rule, "found": len(o), "expected": len(t), "correct": len(o & t),
                             "precision": len(o & t) / len(o) if o else None,
                             "recall": len(o & t) / len(t) if t else None})
        out["findings"] = {"found": len(ours), "expected": len(truth_keys), "correct": hit,
                           "precision": hit / len(ours) if ours else None,
                           "recall": hit / len(truth_keys) if truth_keys else None, "per_rule": per_rule}
    return out


# ---------------------------------------------------------------------------------------------
# reviewer decisions


def review_bands(decisions: pl.DataFrame, width: float = 2.0) -> list[dict[str, Any]]:
    """Measured precision per weight band from the latest reviewer decisions (unsure left out).

    Args:
        decisions: :func:`report.review.latest_decisions`.
        width: band width in weight units.
    """
    d = decisions.filter(pl.col("decision").is_in(["match", "no_match"]) & pl.col("weight").is_not_null())
    if d.height == 0:
        return []
    d = d.with_columns((pl.col("weight") / width).floor().alias("band"))
    agg = d.group_by("band").agg(
        (pl.col("decision") == "match").sum().alias("match"),
        (pl.col("decision") == "no_match").sum().alias("no_match"),
    ).sort("band")
    out = []
    for band, match, no_match in agg.iter_rows():
        n = match + no_match
        out.append({"from": band * width, "to": (band + 1) * width, "match": int(match), "no_match": int(no_match),
                    "precision": match / n if n else None})
    return out


def overrides_applied(overrides: pl.DataFrame, pairs: pl.DataFrame | None,
                      records: pl.DataFrame | None) -> dict[str, int | None]:
    """How many standing reviewer overrides tonight's linkage honoured.

    With an ``override`` column in ``pairs.parquet``: the pairs where it is set. Otherwise: a
    ``force_link`` is honoured when both records are in one person tonight, a ``force_split`` when they
    are in different persons; overrides whose records are not both present are pending.

    Args:
        overrides: :func:`report.review.review_overrides`.
        pairs: tonight's pairs.
        records: tonight's records.
    """
    if pairs is not None and "override" in pairs.columns:
        col = pairs["override"].drop_nulls()
        if col.dtype == pl.Boolean:
            col = col.filter(col)
        elif col.dtype == pl.String:
            col = col.filter(col != "")
        return {"applied": col.len(), "pending": None}
    if records is None or overrides.height == 0:
        return {"applied": 0 if overrides.height == 0 else None, "pending": None}
    pid = {(s, r): p for s, r, p in _records(records).select("source", "record_id", "person_id").iter_rows()}
    applied = pending = 0
    for sl, rl, sr, rr, decision in overrides.iter_rows():
        a, b = pid.get((sl, rl)), pid.get((sr, rr))
        if a is None or b is None:
            pending += 1
        elif (decision == "force_link") == (a == b):
            applied += 1
    return {"applied": applied, "pending": pending}


def night_metrics(extract_date: date, dq: dict[str, Any], lk: dict[str, Any], fs: dict[str, Any],
                  acc: dict[str, Any]) -> dict[str, Any]:
    """The row of ``report_nightly_metrics`` for one night.

    Args:
        extract_date: the night.
        dq: :func:`data_quality`.
        lk: :func:`linkage_summary`.
        fs: :func:`findings_summary`.
        acc: :func:`accuracy`.
    """
    totals = dq.get("totals", {})
    link = acc.get("linkage", {}) if acc.get("available") else {}
    return {
        "extract_date": extract_date,
        "sources_present": dq.get("sources_present", 0),
        "rows_read": totals.get("rows_read", 0), "accepted": totals.get("accepted", 0),
        "quarantined": totals.get("quarantined", 0), "duplicates": totals.get("duplicates", 0),
        "records": lk.get("records", 0), "persons": lk.get("persons", 0), "links": lk.get("links", 0),
        "review_pairs": lk.get("review_pairs", 0), "link_rate": lk.get("link_rate"),
        "findings": fs.get("total", 0) if fs.get("available") else 0,
        "findings_by_rule": fs.get("by_rule", {}) if fs.get("available") else {},
        "precision": link.get("precision"), "recall": link.get("recall"),
    }



# ---------------------------------------------------------------------------------------------
# responses from leads (the case view)

#: Responses that confirm a finding was about the right people and worth raising (``alerts.responses``).
CONFIRMING = ("acknowledged", "already_known", "acted")
#: Link-confidence bands for the precision table: presentation only, not tuned (below the link
#: threshold a finding needs confirmation; the upper bands split the confident links by orders of magnitude).
CONFIDENCE_EDGES = (0.99, 0.999)


def confidence_band(value: float | None, link_threshold: float) -> str:
    """The band a finding's link confidence falls in.

    Args:
        value: the link confidence (0-1), or None.
        link_threshold: the model's link threshold.
    """
    if value is None:
        return "not stated"
    if value < link_threshold:
        return f"below {link_threshold:g} (needs confirmation)"
    lower = link_threshold
    for edge in CONFIDENCE_EDGES:
        if value < edge and edge > lower:
            return f"{lower:g} to {edge:g}"
        lower = max(lower, edge)
    return f"{lower:g} and above"


def response_precision(responses: pl.DataFrame | None, link_threshold: float) -> dict[str, Any]:
    """Precision of the findings from the responses to them: per rule and per link-confidence band.

    Each finding counts once, by its latest response: ``acknowledged``, ``already_known`` and ``acted``
    confirm it; ``not_a_concern`` and ``wrong_link`` refute it. Precision = confirmed / answered.

    Args:
        responses: ``finding_id``, ``rule``, ``link_confidence``, ``disposition``, ``id`` (one row per response).
        link_threshold: the model's link threshold (the lowest band's upper edge).
    """
    if responses is None or responses.height == 0:
        return {"available": False}
    latest = responses.sort("id").unique(subset="finding_id", keep="last").with_columns(
        pl.col("disposition").is_in(list(CONFIRMING)).alias("_ok"),
        pl.col("link_confidence").map_elements(lambda v: confidence_band(v, link_threshold), return_dtype=pl.String,
                                               skip_nulls=False).alias("band"),
    )

    def table(by: str) -> list[dict[str, Any]]:
        agg = latest.group_by(by).agg(
            pl.len().alias("answered"), pl.col("_ok").sum().alias("confirmed"),
            (pl.col("disposition") == "not_a_concern").sum().alias("not_a_concern"),
            (pl.col("disposition") == "wrong_link").sum().alias("wrong_link"),
        ).sort(by)
        return [{"key": r[by], "answered": int(r["answered"]), "confirmed": int(r["confirmed"]),
                 "not_a_concern": int(r["not_a_concern"]), "wrong_link": int(r["wrong_link"]),
                 "precision": r["confirmed"] / r["answered"]} for r in agg.iter_rows(named=True)]

    return {"available": True, "answered": latest.height, "responses": responses.height,
            "by_rule": table("rule"), "by_band": table("band"),
            "precision": float(latest["_ok"].sum()) / latest.height}

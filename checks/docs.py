"""The night's validation results as one self-contained HTML page (no scripts, no network).

GX's own Data Docs load styles and scripts from a CDN and, with an ephemeral context, land in a
temporary folder; this page is rendered from ``checks/<source>/results.json`` and ``gate.json``
with Jinja2 (autoescaped), so it can be opened offline and holds no person data: counts, column
names, check names and row numbers only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, select_autoescape

from ground import outputs
from ground.layout import NightLayout

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Data-quality gate {{ night }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:.9em}
.passed{color:#06622b}.failed{color:#a40000;font-weight:bold}.missing{color:#8a5a00;font-weight:bold}
.ok{color:#06622b}.bad{color:#a40000}.lvl{font-size:.8em;color:#555}
</style></head><body>
<h1>Data-quality gate — night {{ night }}</h1>
<table><tr><th>source</th><th>gate</th><th>failures</th><th>warnings</th><th>set aside by checks</th>
<th>previous night</th><th>seconds</th></tr>
{% for s in sources %}<tr><td><a href="#{{ s.source }}">{{ s.source }}</a></td>
<td class="{{ s.gate.status }}">{{ s.gate.status }}</td><td>{{ s.gate.failures|length }}</td>
<td>{{ s.gate.warnings|length }}</td><td>{{ s.gate.set_aside_by_checks }}</td>
<td>{{ s.gate.previous_night or "–" }}</td><td>{{ s.gate.seconds }}</td></tr>{% endfor %}
</table>
{% if quarantine %}<h2>Rows set aside tonight</h2>
<table><tr><th>source</th><th>file</th><th>reason</th><th>check</th><th>rows</th></tr>
{% for q in quarantine %}<tr><td>{{ q.source }}</td><td>{{ q.file }}</td><td>{{ q.reason }}</td><td>{{ q.check }}</td>
<td>{{ q.rows }}</td></tr>{% endfor %}</table>{% endif %}
{% for s in sources %}
<h2 id="{{ s.source }}">{{ s.source }}{% if s.results.label %} — {{ s.results.label }}{% endif %}:
<span class="{{ s.gate.status }}">{{ s.gate.status }}</span></h2>
{% if s.gate.failures %}<h3>Why the gate failed</h3><table><tr><th>file</th><th>check</th><th>observed</th>
<th>allowed</th><th>what to do</th></tr>
{% for f in s.gate.failures %}<tr><td>{{ f.file or "–" }}</td><td>{{ f.check }}</td><td>{{ f.observed }}</td>
<td>{{ f.allowed }}</td><td>{{ f.message }}</td></tr>{% endfor %}</table>{% endif %}
{% if s.gate.warnings %}<h3>Warnings (rows kept)</h3><table><tr><th>file</th><th>check</th><th>message</th></tr>
{% for w in s.gate.warnings %}<tr><td>{{ w.file or "–" }}</td><td>{{ w.check }}</td><td>{{ w.message }}</td></tr>
{% endfor %}</table>{% endif %}
{% for suite in s.results.suites %}
<h3>{{ suite.suite }}{% if suite.file %} · {{ suite.file }}{% endif %} ({{ suite.rows }} rows)
<span class="{{ 'ok' if suite.success else 'bad' }}">{{ "✓" if suite.success else "✗" }}</span></h3>
<table><tr><th>check</th><th>level</th><th>column</th><th>result</th><th>observed</th><th>unexpected</th>
<th>allowed</th><th>sample rows</th></tr>
{% for e in suite.expectations %}<tr><td>{{ e.check }}<br><span class="lvl">{{ e.expectation }}</span></td>
<td>{{ e.level }}</td><td>{{ e.column or "" }}</td>
<td class="{{ 'ok' if e.success else 'bad' }}">{{ "pass" if e.success else "fail" }}</td>
<td>{{ e.observed if e.observed is not none else "" }}</td>
<td>{{ e.unexpected_count if e.unexpected_count is not none else "" }}</td><td>{{ e.allowed }}</td>
<td>{{ (e.sample_rows or [])|join(", ") }}</td></tr>{% endfor %}
</table>{% endfor %}{% endfor %}
</body></html>
"""


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def render_validation_docs(night_dir: Path) -> Path:
    """Write ``<night>/checks/validation.html`` from every source's results and gate decision.

    Args:
        night_dir: ``<output>/<YYYY-MM-DD>``.

    Returns:
        The path of the page written.
    """
    night = NightLayout(night_dir)
    night.checks.mkdir(parents=True, exist_ok=True)
    sources = []
    for gate_path in sorted(night.checks.glob(f"*/{night.gate('*').name}")):
        source = gate_path.parent.name
        sources.append({"source": source, "gate": _load(gate_path), "results": _load(night.results(source))})
    quarantine: list[dict[str, Any]] = []
    csv_path = night.quarantine
    if csv_path.exists():
        frame = pl.read_csv(csv_path, infer_schema=False)
        if frame.height:
            quarantine = (frame.group_by("source", "file", "reason", "check").len("rows")
                          .sort("source", "file", "reason").to_dicts())
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(TEMPLATE).render(night=night_dir.name, sources=sources, quarantine=quarantine)
    out = night.validation_html
    outputs.write_text(out, html)
    return out

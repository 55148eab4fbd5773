"""The dashboard's pure pieces: charts, annotated rules, diffs, cost and preview."""

from __future__ import annotations

import re

import pytest

from guvscale.dashboard import annotate, charts, cost, preview
from guvscale.pricing import hourly_usd
from guvscale.rules import RuleIssue, load


@pytest.mark.parametrize(
    ("value", "integer", "top"),
    [
        (0, False, 1),
        (0.7, False, 1),
        (3, True, 5),
        (12, True, 20),
        (2.1, False, 2.5),
        (2.1, True, 5),
    ],
)
def test_nice_max(value: float, integer: bool, top: float) -> None:
    assert charts.nice_max(value, integer) == top


def test_chart_draws_lines_markers_and_escapes_labels() -> None:
    chart = charts.Chart(
        "workers <b>",
        0,
        100,
        [
            charts.Line("current", [(0, 1), (50, 3), (100, 3)], step=True),
            charts.Line("desired", [(0, 1), (40, None), (60, 2), (100, 2)], dashed=True),
        ],
        markers=[charts.Marker(50, "1 → 3: backlog <x>"), charts.Marker(500, "outside")],
        integer=True,
    )
    svg = charts.render(chart)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<b>" not in svg and "workers &lt;b&gt;" in svg
    assert "backlog &lt;x&gt;" in svg and "outside" not in svg
    paths = re.findall(r'<path class="series" d="([^"]+)"', svg)
    assert len(paths) == 3  # one step line, the dashed one broken in two by the gap
    assert "H" in paths[0] and "V" in paths[0]
    assert "style=" not in svg  # CSP: presentation attributes only
    assert charts.legend(chart) == [("current", "c0"), ("desired", "c1 dashed")]


def test_annotate_puts_each_problem_at_its_line() -> None:
    text = "a:\n  deadline: x\n  maximum: 9\n"
    errors = [RuleIssue("a", "deadline", 2, "not a number"), RuleIssue(None, None, None, "doc")]
    warnings = [RuleIssue("a", "maximum", 3, "high"), RuleIssue("a", None, 99, "past the end")]
    out = annotate.annotate(text, errors, warnings)
    assert [line.number for line in out.lines] == [1, 2, 3]
    assert out.lines[1].notes == [annotate.Note("error", "a.deadline", "not a number")]
    assert out.lines[1].level == "error" and out.lines[2].level == "warning"
    assert out.lines[0].notes == []
    assert [n.message for n in out.general] == ["doc", "past the end"]
    assert (out.errors, out.warnings) == (2, 2)


def test_diff_shows_changes_with_context_and_numbers() -> None:
    saved = "\n".join(f"line {i}" for i in range(1, 21))
    draft = saved.replace("line 3", "line three").replace("line 18\n", "")
    rows = annotate.diff(saved, draft, context=1)
    kinds = [(r.kind, r.old, r.new) for r in rows]
    assert ("removed", 3, None) in kinds and ("added", None, 3) in kinds
    assert ("removed", 18, None) in kinds
    assert any(r.kind == "gap" for r in rows)
    assert annotate.diff(saved, saved) == []
    assert annotate.changed_lines(saved, draft) == (1, 2)


def test_dyno_hours_hold_each_count_until_the_next_point() -> None:
    points = [(0.0, 2), (1800.0, None), (3600.0, 4)]
    used, hours = cost.dyno_hours(points, 7200.0)
    assert (used, hours) == (2 * 1.0 + 4 * 1.0, 2.0)
    assert cost.dyno_hours([], 100.0) == (0.0, 0.0)


def test_cost_beside_the_maximum() -> None:
    c = cost.cost("emails", "standard-1x", 10, [(0.0, 1), (3600.0, 0)], 7200.0)
    assert c.dyno_hours == 1.0 and c.max_dyno_hours == 20.0
    assert c.saving == pytest.approx(0.95)
    assert c.usd == pytest.approx(25 / 720) and c.max_usd == pytest.approx(20 * 25 / 720)
    private = cost.cost("x", "private-s", 2, [(0.0, 1)], 3600.0)
    assert private.usd is None and private.dyno_hours == 1.0
    assert hourly_usd("Standard-2X") == pytest.approx(50 / 720)


RULES = """
emails:
  deadline: 180
  minimum: 0
  maximum: 5
  concurrency: 10
  processing: 0.3
"""


def test_preview_runs_draft_and_saved_on_the_same_recorded_jobs() -> None:
    saved = load(RULES)
    draft = load(RULES.replace("maximum: 5", "maximum: 1"))
    traffic = preview.Traffic([(1000.0 + 60 * i, 20.0) for i in range(60)], 1000.0 + 3600, 1)
    (row,) = preview.preview(draft, saved, {"emails": traffic}, now=5000.0)
    assert "recorded traffic" in row.workload.source
    assert 60_000 * 0.9 < len(row.workload.arrivals) <= 72_000 * 1.1
    assert row.draft is not None and row.saved is not None
    assert row.draft.result.jobs == row.saved.result.jobs
    # One dyno of 10 at 0.3 s serves 33 jobs/s: 20/s fits, so neither misses,
    # but the draft can never use more than one dyno.
    assert max(n for _, n in row.draft.workers) <= 1
    assert row.saved.misses == 0


def test_preview_falls_back_to_a_public_trace_and_keeps_removed_roles() -> None:
    saved = load(RULES + "\nreports:\n  processing: 20\n  deadline: 600\n")
    draft = load(RULES)
    rows = preview.preview(draft, saved, {}, now=10_000.0)
    assert [r.role for r in rows] == ["emails", "reports"]
    assert "public trace" in rows[0].workload.source
    assert rows[1].draft is None and rows[1].saved is not None
    assert len(rows[0].workload.arrivals) <= preview.MAX_JOBS


def test_markers_close_together_merge_and_say_how_many() -> None:
    markers = [
        charts.Marker(10, "a"),
        charts.Marker(12, "b", bad=True),
        charts.Marker(13, "c"),
        charts.Marker(50, "d"),
        charts.Marker(500, "outside"),
    ]
    out = charts.cluster(markers, 0, 100, within=5)
    assert [(m.at, m.bad) for m in out] == [(13, True), (50, False)]
    assert out[0].label == "3 changes; last failed: b"
    assert out[1].label == "d"

"""The rules section: the YAML editor (problems inline at their lines), the diff
against the saved rules, preview, the version history with restore, and dry-run.

Saving, restoring and the dry-run switch go through `services.rules_config`,
the same service the config API uses: one place checks and stores rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from guvscale.clock import utcnow
from guvscale.dashboard import queries
from guvscale.dashboard.annotate import annotate, changed_lines, diff
from guvscale.dashboard.charts import Chart, Line, legend, render
from guvscale.dashboard.preview import RolePreview, Traffic, preview
from guvscale.dashboard.rules_view import history, saved_roles, version
from guvscale.db.models import Resource, RulesVersion
from guvscale.errors import NotFound
from guvscale.plans import plan_of
from guvscale.rules import MAX_BYTES, RuleIssue, RulesError, load_with_warnings
from guvscale.services.rules_config import (
    RulesChanged,
    RulesRejected,
    current_rules,
    current_yaml,
    save_rules,
    set_dry_run,
)
from guvscale.web.auth import CsrfDep, Login, LoginDep, PageRoute, PathResourceDep
from guvscale.web.deps import DbDep
from guvscale.web.pages import json_router as json_router_for_dashboard
from guvscale.web.pages import render as render_template
from guvscale.web.pages import shell
from guvscale.web.schemas import answers

router = APIRouter(route_class=PageRoute)
json_router = json_router_for_dashboard()
RulesForm = Annotated[str, Form(max_length=MAX_BYTES * 2)]
# The version the editor opened on (0: none saved yet); see `save_rules`.
BasedOnForm = Annotated[int | None, Form(ge=0)]
PREVIEW_RANGE = "24h"  # the traffic a preview replays


def _check(text: str) -> tuple[list[RuleIssue], list[RuleIssue]]:
    """(errors, warnings) of a draft."""
    try:
        _, warnings = load_with_warnings(text)
    except RulesError as exc:
        return exc.errors, []
    return [], warnings


def _editor(
    db: Session,
    resource: Resource,
    login: Login,
    draft: str | None,
    based_on: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The editor's page. `based_on`: the version the draft started from,
    carried through previews and refusals (None: the version in force)."""
    saved = current_yaml(db, resource.id)
    text = saved if draft is None else draft
    # A draft sent empty is checked too ("the rules are empty"); only a page
    # with nothing saved yet opens without problems.
    errors, warnings = _check(text) if draft is not None or text.strip() else ([], [])
    versions = history(db)
    in_force = versions[0].version if versions else None
    return shell(
        db,
        resource,
        login,
        "rules",
        draft=text,
        saved=saved,
        annotated=annotate(text, errors, warnings) if errors or warnings else None,
        changes=diff(saved, text) if draft is not None else [],
        changed=changed_lines(saved, text) if draft is not None else (0, 0),
        versions=versions,
        in_force=in_force,
        based_on=(in_force or 0) if based_on is None else based_on,
        **extra,
    )


@router.get("/resources/{resource_id}/rules", include_in_schema=False)
def rules_page(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    saved: int | None = None,
    restored: int | None = None,
) -> Response:
    context = _editor(db, resource, login, None, just_saved=saved, restored=restored)
    return render_template(request, "rules.html", context)


def _version(db: Session, number: int) -> RulesVersion:
    old = version(db, number)
    if old is None:
        raise NotFound(f"no version {number} of the rules", where="version")
    return old


def _to_rules(resource: Resource, **query: int) -> Response:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return RedirectResponse(f"/resources/{resource.id}/rules?{params}", status_code=303)


@router.post("/resources/{resource_id}/rules", include_in_schema=False)
def save(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    _csrf: CsrfDep,
    rules: RulesForm = "",
    based_on: BasedOnForm = None,
) -> Response:
    try:
        saved = save_rules(
            db, resource.id, rules, author=login.email, now=utcnow(), based_on=based_on
        )
    except RulesRejected:
        context = _editor(db, resource, login, rules, based_on, rejected=True)
        return render_template(request, "rules.html", context, status=422)
    except RulesChanged as exc:
        # The draft is kept, now based on the newest: its diff shows what
        # saving it would undo, and Save again means to.
        newest = version(db, exc.newest)
        context = _editor(db, resource, login, rules, exc.newest, changed_under=newest)
        return render_template(request, "rules.html", context, status=409)
    return _to_rules(resource, saved=saved.version)


@router.post("/resources/{resource_id}/rules/versions/{number}/restore", include_in_schema=False)
def restore(
    resource: PathResourceDep, login: LoginDep, db: DbDep, _csrf: CsrfDep, number: int
) -> Response:
    old = _version(db, number)
    # A restore is a new version with the old text: the history only grows.
    saved = save_rules(
        db, resource.id, old.yaml_text, author=f"{login.email} (restored v{number})", now=utcnow()
    )
    return _to_rules(resource, saved=saved.version, restored=number)


@router.get("/resources/{resource_id}/rules/versions/{number}", include_in_schema=False)
def version_page(
    request: Request, resource: PathResourceDep, login: LoginDep, db: DbDep, number: int
) -> Response:
    old = _version(db, number)
    context = shell(
        db,
        resource,
        login,
        "rules",
        old=old,
        changes=diff(current_yaml(db, resource.id), old.yaml_text),
        in_force=(current_rules(db, resource.id) or old).version,
    )
    return render_template(request, "rules_version.html", context)


@router.post("/resources/{resource_id}/dry-run", include_in_schema=False)
def dry_run(
    resource: PathResourceDep,
    db: DbDep,
    _csrf: CsrfDep,
    dry_run: Annotated[str, Form(pattern="^(on|off)$")],
) -> Response:
    set_dry_run(db, resource.id, dry_run == "on")
    return RedirectResponse(f"/resources/{resource.id}/rules", status_code=303)


def _traffic(db: Session) -> dict[str, Traffic]:
    _, _, end, found = queries.window(db, PREVIEW_RANGE, utcnow())
    return {
        role: Traffic(
            [(p.at, p.publish_rate) for p in points],
            end.timestamp(),
            initial=points[0].current if points else None,
        )
        for role, points in found.items()
    }


def _preview_chart(row: RolePreview) -> Chart:
    lines = []
    for label, side, dashed in (("draft", row.draft, False), ("saved", row.saved, True)):
        if side is not None:
            pts = [(row.workload.start + t, float(n)) for t, n in side.workers]
            lines.append(Line(f"{label}: dynos", pts, step=True, dashed=dashed))
    ends = [row.workload.start + s.result.end for s in (row.draft, row.saved) if s is not None]
    return Chart(
        f"{row.role}: predicted dynos",
        row.workload.start,
        max(ends, default=row.workload.start + 1),
        lines,
        integer=True,
    )


@router.post("/resources/{resource_id}/rules/preview", include_in_schema=False)
def preview_page(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    _csrf: CsrfDep,
    rules: RulesForm = "",
    based_on: BasedOnForm = None,
) -> Response:
    errors, _warnings = _check(rules)
    if errors:
        context = _editor(db, resource, login, rules, based_on, rejected=True)
        return render_template(request, "rules.html", context, status=422)
    # As the worker would run them: the plan's poll interval and count of
    # roles (a draft's `pollinterval: 0.1` simulated an hour in 36,000 polls).
    plan = plan_of(resource.plan)
    draft, _ = plan.scales(load_with_warnings(rules)[0].values())
    saved, _ = plan.scales(saved_roles(db, resource.id).values())
    rows = preview(
        {r.name: r for r in draft},
        {r.name: r for r in saved},
        _traffic(db),
        utcnow().timestamp(),
    )
    context = _editor(
        db,
        resource,
        login,
        rules,
        based_on,
        previews=[(row, _preview_chart(row)) for row in rows],
        render_chart=render,
        legend=legend,
    )
    return render_template(request, "preview.html", context)


class CheckIn(BaseModel):
    # No maxLength: the body limit (413) comes first, and a draft over the
    # rules' own limit is answered as an error at its place, as on save.
    rules: str = Field(description="the draft rules YAML")


class IssueOut(BaseModel):
    role: str | None
    key: str | None
    line: int | None
    message: str


class CheckOut(BaseModel):
    errors: list[IssueOut]
    warnings: list[IssueOut]


def _issues(found: list[RuleIssue]) -> list[IssueOut]:
    return [IssueOut(role=i.role, key=i.key, line=i.line, message=i.message) for i in found]


@json_router.post(
    "/resources/{resource_id}/rules/check", response_model=CheckOut, responses=answers(400, 413)
)
def check(resource: PathResourceDep, _csrf: CsrfDep, body: CheckIn) -> CheckOut:
    """Check a draft without saving it (the editor's live check)."""
    errors, warnings = _check(body.rules)
    return CheckOut(errors=_issues(errors), warnings=_issues(warnings))

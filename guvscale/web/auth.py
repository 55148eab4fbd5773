"""Who is signed in, for which resource: the browser session and the pages built on it.

A session is opened only by Heroku SSO (`routes/sso.py`) and is good for one
resource. Routes get that resource through `CurrentResourceDep` (any route
acting for the signed-in tenant) or `PathResourceDep` (routes under
`/resources/{resource_id}`, which must name that same resource); both also
scope the request's DB session to the tenant with `scope_to`.

Session keys (the cookie is signed, not encrypted: nothing secret goes in):
`resource_id` (our id), `email`, `user_id` (or null), `sso` (the scheme that
signed in), `login_at` (unix seconds), `session_id` (names the server-side
record, services.web_sessions, without which the cookie opens nothing) and
`csrf` (the token forms that change state must send back). The cookie itself
is set by Starlette's SessionMiddleware (see `web/app.py`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from guvscale.db.models import Resource, ResourceState
from guvscale.db.scoping import scope_to
from guvscale.errors import Forbidden, Unauthorized
from guvscale.services import web_sessions
from guvscale.web import csrf
from guvscale.web.csrf import CsrfRefused
from guvscale.web.deps import DbDep

# Absolute, whatever the cookie says: a session never outlives its sign-in by more.
SESSION_LIFETIME_S = 8 * 3600

# Pages show who is signed in; keep them out of caches, frames and referrers.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class Login:
    resource_id: str
    email: str
    user_id: str | None
    sso: str
    login_at: int
    session_id: str
    csrf: str


class NotSignedIn(Unauthorized):
    code = "not_signed_in"


class WrongResource(Forbidden):
    code = "wrong_resource"


class ResourceUnavailable(Forbidden):
    code = "resource_unavailable"


# Raised only by the dependencies below, before any route body runs: that is
# what lets PageRoute turn them into a page without hiding a rolled-back write.
SESSION_ERRORS = (NotSignedIn, WrongResource, ResourceUnavailable, CsrfRefused)


def _utc(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


def start_session(
    request: Request,
    db: Session,
    *,
    resource_id: str,
    email: str,
    user_id: str | None,
    sso: str,
    now: float,
) -> Login:
    """Replace the browser's session (and revoke its record) with a new one."""
    _close_recorded(request, db)
    session_id = web_sessions.open_session(
        db, resource_id, now=_utc(now), lifetime_s=SESSION_LIFETIME_S
    )
    login = Login(resource_id, email, user_id, sso, int(now), session_id, csrf.new_token())
    # A fresh id and a cleared cookie: nothing from before sign-in survives (fixation).
    request.session.clear()
    request.session.update(asdict(login))
    return login


def _close_recorded(request: Request, db: Session) -> None:
    session_id = request.session.get("session_id")
    if isinstance(session_id, str) and session_id:
        web_sessions.close_session(db, session_id)


def end_session(request: Request, db: Session) -> None:
    """Sign out: the record goes, so every copy of the cookie stops working."""
    _close_recorded(request, db)
    request.session.clear()


def login_from_session(data: Mapping[str, Any], now: float) -> Login | None:
    """The signed-in login, or None when the session is empty, malformed or too old."""
    resource_id, email, user_id = data.get("resource_id"), data.get("email"), data.get("user_id")
    sso, login_at = data.get("sso"), data.get("login_at")
    session_id, csrf = data.get("session_id"), data.get("csrf")
    if not (isinstance(resource_id, str) and resource_id and isinstance(email, str)):
        return None
    if not (isinstance(session_id, str) and session_id and isinstance(csrf, str) and csrf):
        return None
    if not (isinstance(sso, str) and isinstance(user_id, str | None)):
        return None
    if not isinstance(login_at, int) or isinstance(login_at, bool):
        return None
    if not (now - SESSION_LIFETIME_S <= login_at <= now + 60):
        return None
    return Login(resource_id, email, user_id, sso, login_at, session_id, csrf)


def live_login(request: Request, db: Session) -> Login | None:
    """The signed-in login, if its cookie is sound and its server-side record live.

    Otherwise None, and the cookie is cleared.
    """
    now = time.time()
    login = login_from_session(request.session, now)
    if login is None or not web_sessions.is_live(
        db, login.session_id, login.resource_id, now=_utc(now)
    ):
        request.session.clear()
        return None
    return login


def current_login(request: Request, db: DbDep) -> Login:
    login = live_login(request, db)
    if login is None:
        raise NotSignedIn("not signed in: open GuvScale from your app's add-ons in Heroku")
    return login


LoginDep = Annotated[Login, Depends(current_login)]


def current_resource(request: Request, login: LoginDep, db: DbDep) -> Resource:
    """The signed-in resource, still provisioned; the DB session is scoped to it."""
    resource = db.get(Resource, login.resource_id)
    if resource is None or resource.state != ResourceState.provisioned:
        end_session(request, db)
        raise ResourceUnavailable("this add-on is not provisioned any more")
    scope_to(db, resource.id)
    return resource


CurrentResourceDep = Annotated[Resource, Depends(current_resource)]


def resource_in_path(resource_id: str, resource: CurrentResourceDep) -> Resource:
    if resource_id != resource.id:
        raise WrongResource("you are signed in to another add-on: open this one from Heroku")
    return resource


PathResourceDep = Annotated[Resource, Depends(resource_in_path)]


async def require_csrf(request: Request, login: LoginDep) -> None:
    """Refuse a state-changing request unless it carries its live session's token."""
    sent = await csrf.sent_token(request)
    csrf.check(login.csrf, sent, "this form has expired: reload the page and try again")


CsrfDep = Annotated[None, Depends(require_csrf)]


def login_to_sign_out(
    request: Request, db: DbDep, csrf_field: Annotated[str, Form(alias=csrf.FIELD)] = ""
) -> Login | None:
    """The login a sign-out ends, once its form proved it came from our page (CSRF).

    None when no live session is signed in: signing out then has nothing to do
    but clear the cookie, and a revoked session's token is worth nothing.
    """
    login = live_login(request, db)
    if login is None:
        return None
    csrf.check(
        login.csrf,
        csrf_field,
        "this sign-out did not come from your GuvScale page: reload it",
        title="Sign-out refused",
    )
    return login


SignOutDep = Annotated[Login | None, Depends(login_to_sign_out)]


def render_page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    response: Response = request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    response.headers.update(PAGE_HEADERS)
    return response


def render_error(request: Request, status_code: int, title: str, message: str) -> Response:
    return render_page(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


_TITLES = {401: "Not signed in", 403: "Not allowed"}


class PageRoute(APIRoute):
    """Route class for HTML pages: session errors become an error page, not JSON.

    Use with `APIRouter(route_class=PageRoute)`. Other errors keep the app's
    JSON handling, so a failed write still rolls back.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SESSION_ERRORS as exc:
                title = getattr(exc, "title", None) or _TITLES.get(exc.status_code, "Error")
                return render_error(request, exc.status_code, title, exc.message)
            for name, value in PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return page_handler

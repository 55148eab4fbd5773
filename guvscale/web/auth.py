"""Who is signed in, for which resource: the browser session and the pages built on it.

A session is opened only by Heroku SSO (`routes/sso.py`) and is good for one
resource. Routes get that resource through `CurrentResourceDep` (any route
acting for the signed-in tenant) or `PathResourceDep` (routes under
`/resources/{resource_id}`, which must name that same resource); both also
scope the request's DB session to the tenant with `scope_to`.

Session keys (the cookie is signed, not encrypted: nothing secret goes in):
`resource_id` (our id), `email`, `user_id` (or null), `sso` (the scheme that
signed in) and `login_at` (unix seconds). The cookie itself is set by
Starlette's SessionMiddleware (see `web/app.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from guvscale.db.models import Resource, ResourceState
from guvscale.db.scoping import scope_to
from guvscale.errors import Forbidden, Unauthorized
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


class NotSignedIn(Unauthorized):
    code = "not_signed_in"


class WrongResource(Forbidden):
    code = "wrong_resource"


class ResourceUnavailable(Forbidden):
    code = "resource_unavailable"


# Raised only by the dependencies below, before any route body runs: that is
# what lets PageRoute turn them into a page without hiding a rolled-back write.
SESSION_ERRORS = (NotSignedIn, WrongResource, ResourceUnavailable)


def start_session(request: Request, login: Login) -> None:
    # Cookie sessions hold no server-side id, so clearing is all fixation needs.
    request.session.clear()
    request.session.update(asdict(login))


def end_session(request: Request) -> None:
    request.session.clear()


def login_from_session(data: Mapping[str, Any], now: float) -> Login | None:
    """The signed-in login, or None when the session is empty, malformed or too old."""
    resource_id, email, user_id = data.get("resource_id"), data.get("email"), data.get("user_id")
    sso, login_at = data.get("sso"), data.get("login_at")
    if not (isinstance(resource_id, str) and resource_id and isinstance(email, str)):
        return None
    if not (isinstance(sso, str) and isinstance(user_id, str | None)):
        return None
    if not isinstance(login_at, int) or isinstance(login_at, bool):
        return None
    if not (now - SESSION_LIFETIME_S <= login_at <= now + 60):
        return None
    return Login(resource_id, email, user_id, sso, login_at)


def current_login(request: Request) -> Login:
    login = login_from_session(request.session, time.time())
    if login is None:
        raise NotSignedIn("not signed in: open GuvScale from your app's add-ons in Heroku")
    return login


LoginDep = Annotated[Login, Depends(current_login)]


def current_resource(request: Request, login: LoginDep, db: DbDep) -> Resource:
    """The signed-in resource, still provisioned; the DB session is scoped to it."""
    resource = db.get(Resource, login.resource_id)
    if resource is None or resource.state != ResourceState.provisioned:
        end_session(request)
        raise ResourceUnavailable("this add-on is not provisioned any more")
    scope_to(db, resource.id)
    return resource


CurrentResourceDep = Annotated[Resource, Depends(current_resource)]


def resource_in_path(resource_id: str, resource: CurrentResourceDep) -> Resource:
    if resource_id != resource.id:
        raise WrongResource("you are signed in to another add-on: open this one from Heroku")
    return resource


PathResourceDep = Annotated[Resource, Depends(resource_in_path)]


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
                return render_error(
                    request, exc.status_code, _TITLES.get(exc.status_code, "Error"), exc.message
                )
            for name, value in PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return page_handler

"""CSRF tokens for the dashboard's forms and its script's JSON posts.

One random token per signed-in session, kept in the (signed) session cookie;
every state-changing request under `/resources/` must send it back, as the
form field `csrf` or the `X-CSRF-Token` header. SameSite=Lax already
keeps the cookie off cross-site POSTs; the token also stops same-site ones
(another app on a shared parent domain) and old browsers.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from guvscale.errors import Forbidden

SESSION_KEY = "csrf"
FIELD = "csrf"  # the same field (and session key) as the sign-out form (h1)
HEADER = "X-CSRF-Token"


class CsrfRefused(Forbidden):
    code = "csrf_refused"


def csrf_token(request: Request) -> str:
    """This session's token, made on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


async def require_csrf(request: Request) -> None:
    """Refuse the request unless it carries this session's token."""
    expected = request.session.get(SESSION_KEY)
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached: the route reads the same form
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not (isinstance(expected, str) and sent and hmac.compare_digest(expected, sent)):
        raise CsrfRefused("this form has expired: reload the page and try again")


CsrfDep = Annotated[None, Depends(require_csrf)]


def install(templates: Jinja2Templates) -> None:
    """Templates call `csrf_token(request)` for the hidden field of each form."""
    templates.env.globals["csrf_token"] = csrf_token
    templates.env.globals["csrf_field"] = FIELD

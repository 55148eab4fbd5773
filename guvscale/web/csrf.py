"""CSRF tokens: the one token source and the one check for every form and JSON post.

Each sign-in (`auth.start_session`) makes one random token, kept in the
(signed) session cookie beside the id of its server-side record
(services.web_sessions). Every request that changes state sends it back as
the form field `csrf` or the `X-CSRF-Token` header, and is checked only
against a login whose record is still live (`auth.require_csrf`,
`auth.login_to_sign_out`): a token from a revoked or replaced session opens
nothing. SameSite=Lax already keeps the cookie off cross-site POSTs; the
token also stops same-site ones (another app on a shared parent domain) and
old browsers.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from guvscale.errors import Forbidden

FIELD = "csrf"  # the form field, and the session key the token is kept under
HEADER = "X-CSRF-Token"


class CsrfRefused(Forbidden):
    """403: a page titled `title` for pages, JSON for JSON routes (the app's handler)."""

    code = "csrf_refused"

    def __init__(self, message: str, *, title: str = "Form expired") -> None:
        super().__init__(message)
        self.title = title


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def sent_token(request: Request) -> str | None:
    """The token a request sent: the header, else a form's field."""
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached: the route reads the same form
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    return sent


def check(expected: str, sent: str | None, message: str, *, title: str = "Form expired") -> None:
    """CsrfRefused unless `sent` is the session's token."""
    if not (expected and sent and hmac.compare_digest(expected.encode(), sent.encode())):
        raise CsrfRefused(message, title=title)

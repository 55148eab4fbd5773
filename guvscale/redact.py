"""Secrets out of logs and messages: whole values at the places secrets live.

Pure. Three places are known: a field or header whose name says it holds a
secret, a URL's password, and a value the caller knows it sent (a token, a
grant code, a broker password). Those are replaced whole; nothing is replaced
as a substring of another word, so a one-letter grant code cannot turn
`ConnectError` into `Conne[redacted]tError`.

A known value shorter than MIN_BARE_SECRET characters is replaced only where it
stands as a password in userinfo (`user:SECRET@`, with or without a scheme):
standing alone it is as likely a word of the message (`a`, `to`, `401`) as the
secret, and a secret that short hides nothing by being hidden elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"

# Field and header names (lower case, `-` read as `_`) whose values are secrets.
SECRET_NAMES = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "secret",
        "token",
        "code",
        "client_secret",
        "access_token",
        "refresh_token",
        "resource_token",
        "api_key",
        "sso_salt",
        "secret_key",
    }
)
SECRET_SUFFIXES = ("_token", "_secret", "_password", "_salt")

# A URL's userinfo password: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@]*:)[^\s@/?#]*@")
# Characters tokens are made of (base64url, hex, dotted JWT-ish, Heroku's `t.xxx`).
_VALUE_CHARS = r"A-Za-z0-9_\-.~+/"
# A known secret shorter than this is replaced only as a userinfo password.
MIN_BARE_SECRET = 4
# The last character of a userinfo's user name, just before `:SECRET@`.
_USERINFO_USER = r"[^\s:/?#@]"


def is_secret_name(name: str) -> bool:
    key = name.strip().lower().replace("-", "_")
    return key in SECRET_NAMES or key.endswith(SECRET_SUFFIXES)


def redact_fields(value: Any) -> Any:
    """A copy of a mapping (or list of them) with every secret-named field's value replaced."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_name(k) else redact_fields(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_fields(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return redact_text(url)
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{host}"))


def redact_text(text: str) -> str:
    """Free text with the password of every URL in it replaced."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}@", text)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each known secret replaced where it stands as a whole value
    (one shorter than MIN_BARE_SECRET only as a userinfo password), and every
    URL's password replaced. Empty secrets are ignored."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        value = re.escape(secret)
        if len(secret) < MIN_BARE_SECRET:
            pattern = rf"(?<={_USERINFO_USER}:){value}(?=@)"
        else:
            pattern = rf"(?<![{_VALUE_CHARS}]){value}(?![{_VALUE_CHARS}])"
        text = re.sub(pattern, REDACTED, text)
    return redact_text(text)

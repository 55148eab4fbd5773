"""Heroku single sign-on: is this browser redirect really from Heroku, and for whom?

Pure: the fields Heroku sent, the SSO salt and `now` go in; a `SsoClaim` comes
out or `SsoRejected` is raised. Looking the resource up, the session and the
cookies are the route's business.

Schemes (section 5 of the contract):
- v3, `resource_token = sha1_hex(resource_id:salt:timestamp)`, resource_id
  being Heroku's add-on uuid;
- v3 user-scoped, `user_scoped_resource_token =
  sha256(resource_id:salt:timestamp:user_id:email)`, hex or base64 (standard or
  url-safe, padded or not), since it is unconfirmed which one Heroku sends;
- v1 (kensa and older senders), `token = sha1_hex(id:salt:timestamp)`, `id`
  being the id we answered at provisioning.

When both v3 tokens arrive, every token sent must verify. So a user-scoped
token, when present, always holds; a lone `resource_token` is still enough,
because Heroku sends it to every add-on and the user-scoped one is only
recommended. Without a user-scoped token `email` and `user_id` are claims the
token does not cover: they are shown and recorded, never used for access.

A token stays valid for its whole window (Heroku's scheme has no nonce), so
`services.sso_uses` remembers, in the database, what already signed someone in.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from guvscale.db.models import ProvisionJobState, ResourceState

MAX_AGE_S = 300  # kensa sends a token 6 minutes old and expects a refusal
MAX_FUTURE_S = 60  # clock skew we forgive between Heroku and us
# Retry-After for an add-on still being set up: a job round takes seconds.
SETTING_UP_RETRY_S = 30
# Retry-After when a retry is not expected to work soon (setup stalled, or a
# state this release does not know, which a deploy has to settle).
LATER_RETRY_S = 300

# Heroku may add fields; only these are read, and each at most once.
V3_FIELDS = frozenset(
    {
        "resource_id",
        "resource_token",
        "user_scoped_resource_token",
        "timestamp",
        "email",
        "user_id",
        "app",
        "context_app",
        "nav-data",
    }
)
V1_FIELDS = frozenset({"id", "token", "timestamp", "nav-data", "email", "app"})
KNOWN_FIELDS = V3_FIELDS | V1_FIELDS

_MAX_CHARS = {"nav-data": 4096}
_DEFAULT_MAX_CHARS = 320  # an email's limit; ids and tokens are far shorter

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Heroku app names: lower-case letters, digits and dashes, starting with a letter.
_APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,99}")
# Not a full address grammar: enough to keep markup, spaces and control
# characters out of what we display and record as an author.
_EMAIL = re.compile(r"[^\s<>@\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]+")
# RFC 6265 cookie-octets: printable ASCII but space, '"', ',', ';' and '\\'.
# Heroku sends base64; anything else could not go into a Set-Cookie header as is.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+")


class SsoRejected(Exception):
    """Why a sign-in is refused; `message` may be shown to the user, never holds a secret.

    Most refusals are a 403 ("Sign-in refused"); a genuine sign-in to an add-on
    that cannot be shown (see `check_ready`) carries its own status and title,
    and `retry_after` (seconds) when trying again later can work.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        field: str | None = None,
        status: int = 403,
        title: str = "Sign-in refused",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field
        self.status = status
        self.title = title
        self.retry_after = retry_after


class SsoScheme(enum.StrEnum):
    v3_user_scoped = "v3-user-scoped"
    v3 = "v3"
    v1 = "v1"


ReplayKey = tuple[str, ...]


@dataclass(frozen=True)
class SsoClaim:
    """A verified sign-in. `ref` is Heroku's uuid (v3) or the id we gave Heroku (v1)."""

    scheme: SsoScheme
    ref: str
    timestamp: int
    email: str
    user_id: str | None
    app: str | None
    nav_data: str | None
    # What sso_uses checks (this sign-in is new) and what it then remembers.
    check_keys: tuple[ReplayKey, ...]
    record_keys: tuple[ReplayKey, ...]


def collect_fields(pairs: Iterable[tuple[str, object]]) -> dict[str, str]:
    """The known fields as single strings; a known field sent twice is ambiguous and refused."""
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in KNOWN_FIELDS:
            continue
        if not isinstance(value, str):
            raise SsoRejected("not_text", f"field {name} must be text", field=name)
        if name in fields:
            raise SsoRejected("repeated_field", f"field {name} was sent more than once", field=name)
        if len(value) > _MAX_CHARS.get(name, _DEFAULT_MAX_CHARS):
            raise SsoRejected("too_long", f"field {name} is too long", field=name)
        fields[name] = value
    return fields


def resource_token(resource_id: str, salt: str, timestamp: str) -> str:
    return hashlib.sha1(f"{resource_id}:{salt}:{timestamp}".encode()).hexdigest()  # noqa: S324 - Heroku's scheme


def user_scoped_digest(
    resource_id: str, salt: str, timestamp: str, user_id: str, email: str
) -> bytes:
    return hashlib.sha256(f"{resource_id}:{salt}:{timestamp}:{user_id}:{email}".encode()).digest()


def decode_sha256(given: str) -> bytes | None:
    """A 32-byte digest written as hex or any base64 variant; None when it is neither."""
    if not given.isascii():
        return None
    if len(given) == 64:
        try:
            return bytes.fromhex(given)
        except ValueError:
            return None
    body = given.replace("-", "+").replace("_", "/").rstrip("=")
    if len(body) != 43 or len(given) - len(body) > 1:
        return None
    try:
        raw = base64.b64decode(body + "=", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _same_text(expected: str, given: str) -> bool:
    # Bytes, so a non-ASCII forgery is a mismatch rather than a TypeError.
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def parse_timestamp(raw: str) -> int:
    if not _TIMESTAMP.fullmatch(raw):
        raise SsoRejected(
            "bad_timestamp", "timestamp must be whole unix seconds", field="timestamp"
        )
    return int(raw)


def check_fresh(timestamp: int, now: float) -> None:
    age = now - timestamp
    if age > MAX_AGE_S:
        raise SsoRejected(
            "expired",
            "this sign-in link has expired (links last 5 minutes)",
            field="timestamp",
        )
    if -age > MAX_FUTURE_S:
        raise SsoRejected("future", "timestamp is in the future", field="timestamp")


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise SsoRejected("missing_field", f"field {name} is missing", field=name)
    return value


def _optional(fields: Mapping[str, str], name: str) -> str | None:
    return fields.get(name) or None


def _email(fields: Mapping[str, str]) -> str:
    email = _required(fields, "email")
    if not _EMAIL.fullmatch(email):
        raise SsoRejected("bad_email", "email is not an email address", field="email")
    return email


def _app(fields: Mapping[str, str]) -> str | None:
    app = _optional(fields, "app")
    if app is not None and not _APP_NAME.fullmatch(app):
        raise SsoRejected("bad_app", "app is not a Heroku app name", field="app")
    return app


def _nav_data(fields: Mapping[str, str]) -> str | None:
    """nav-data when a cookie can carry it verbatim; otherwise dropped, never an error.

    It only feeds Heroku's navigation header, so a sign-in must not fail over it.
    """
    value = _optional(fields, "nav-data")
    return value if value is not None and _COOKIE_VALUE.fullmatch(value) else None


def _bad_token(field: str) -> SsoRejected:
    return SsoRejected("bad_token", "the sign-in token is not valid", field=field)


def _plain_key(ref: str, raw_ts: str) -> ReplayKey:
    """The replay key of the plain token, sha1(ref:salt:timestamp), whichever
    form carried it: v1's `token` for Heroku's uuid is v3's `resource_token`,
    and keyed per form, a v3 sign-in's captured token signed in again as v1
    (with any email). Named "v3" as the v3 form's keys were first stored."""
    return ("v3", ref, raw_ts)


def _verify_v3(fields: Mapping[str, str], salt: str, now: float) -> SsoClaim:
    ref = _required(fields, "resource_id")
    raw_ts = _required(fields, "timestamp")
    timestamp = parse_timestamp(raw_ts)
    email = _email(fields)
    app = _app(fields)
    user_id = _optional(fields, "user_id")
    if user_id is not None and not _PRINTABLE.fullmatch(user_id):
        raise SsoRejected("bad_user_id", "user_id holds control characters", field="user_id")
    plain = _optional(fields, "resource_token")
    scoped = _optional(fields, "user_scoped_resource_token")
    if plain is None and scoped is None:
        raise SsoRejected(
            "missing_field", "field resource_token is missing", field="resource_token"
        )

    # Check every token before freshness, so only a token holder learns "expired".
    if scoped is not None:
        if user_id is None:
            raise SsoRejected("missing_field", "field user_id is missing", field="user_id")
        given = decode_sha256(scoped)
        expected = user_scoped_digest(ref, salt, raw_ts, user_id, email)
        # compare_digest on equal-length bytes even when `given` failed to decode.
        if not hmac.compare_digest(expected, given or bytes(32)) or given is None:
            raise _bad_token("user_scoped_resource_token")
    if plain is not None and not _same_text(resource_token(ref, salt, raw_ts), plain):
        raise _bad_token("resource_token")
    check_fresh(timestamp, now)

    # The plain token is a function of (uuid, timestamp) only, so once any
    # sign-in for that pair succeeded it is spent; a user-scoped sign-in is
    # judged by its own key, so two users signing in within the same second
    # both get in, while stripping the user-scoped token to replay the plain
    # one (with another email) is refused.
    plain_key = _plain_key(ref, raw_ts)
    check: tuple[ReplayKey, ...]
    record: tuple[ReplayKey, ...]
    if scoped is not None:
        scoped_key: ReplayKey = ("v3-user", ref, raw_ts, user_id or "", email)
        scheme, check, record = SsoScheme.v3_user_scoped, (scoped_key,), (scoped_key, plain_key)
    else:
        scheme, check, record = SsoScheme.v3, (plain_key,), (plain_key,)
    return SsoClaim(
        scheme=scheme,
        ref=ref,
        timestamp=timestamp,
        email=email,
        user_id=user_id,
        app=app,
        nav_data=_nav_data(fields),
        check_keys=check,
        record_keys=record,
    )


def _verify_v1(fields: Mapping[str, str], salt: str, now: float) -> SsoClaim:
    ref = _required(fields, "id")
    raw_ts = _required(fields, "timestamp")
    timestamp = parse_timestamp(raw_ts)
    token = _required(fields, "token")
    email = _email(fields)
    app = _app(fields)
    if not _same_text(resource_token(ref, salt, raw_ts), token):
        raise _bad_token("token")
    check_fresh(timestamp, now)
    key = _plain_key(ref, raw_ts)
    return SsoClaim(
        scheme=SsoScheme.v1,
        ref=ref,
        timestamp=timestamp,
        email=email,
        user_id=None,
        app=app,
        nav_data=_nav_data(fields),
        check_keys=(key,),
        record_keys=(key,),
    )


def verify(fields: Mapping[str, str], salt: str, now: float) -> SsoClaim:
    """Check one sign-in; v3 when `resource_id` is sent, else v1 when `id` is."""
    if not salt:
        # An empty salt would make every token computable by anyone.
        raise SsoRejected("not_configured", "single sign-on is not configured")
    if "resource_id" in fields:
        return _verify_v3(fields, salt, now)
    if "id" in fields:
        return _verify_v1(fields, salt, now)
    raise SsoRejected("missing_field", "field resource_id is missing", field="resource_id")


def check_ready(state: ResourceState, setup: ProvisionJobState | None = None) -> None:
    """Refuse a verified sign-in to an add-on that cannot be shown, saying why.

    `setup` is the state of the add-on's latest provision job, if it has one.
    Only `provisioned` passes. Each refusal names what the user can do and
    nothing internal (no state names, ids or errors): still being set up or a
    stalled setup is 503 with Retry-After; removed is 410; a state this
    release does not know (the add-on's, or its job's: a newer release's,
    which this release's job runner leaves alone) is 503 with the longer
    Retry-After, as it is ours to settle (a deploy), not the user's.
    """
    if state is ResourceState.provisioned:
        return
    if state is ResourceState.provisioning and setup is not ProvisionJobState.unknown:
        if setup is ProvisionJobState.failed:
            raise SsoRejected(
                "setup_stalled",
                "setting up this add-on has not finished; try again later, and if it is "
                "still not ready in a few hours, remove the add-on and add it again",
                status=503,
                title="Not ready yet",
                retry_after=LATER_RETRY_S,
            )
        raise SsoRejected(
            "provisioning",
            "this add-on is still being set up; try again in a minute",
            status=503,
            title="Not ready yet",
            retry_after=SETTING_UP_RETRY_S,
        )
    if state is ResourceState.deprovisioned:
        raise SsoRejected(
            "deprovisioned",
            "this add-on has been removed from its app, so there is nothing to sign in to",
            status=410,
            title="Add-on removed",
        )
    raise SsoRejected(
        "unknown_state",
        "this add-on's page is not available just now; try again later",
        status=503,
        title="Temporarily unavailable",
        retry_after=LATER_RETRY_S,
    )

"""The pure SSO checks: tokens, timestamps, fields and replays, with `now` fixed."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import UploadFile

from guvscale.db.models import ProvisionJobState, ResourceState
from guvscale.services.sso import (
    MAX_AGE_S,
    MAX_FUTURE_S,
    SsoRejected,
    SsoScheme,
    check_ready,
    collect_fields,
    decode_sha256,
    parse_timestamp,
    verify,
)
from tests.factories import sha1_hex

SALT = "s3cret-salt"
UUID = "01234567-89ab-cdef-0123-456789abcdef"
NOW = 1_780_000_000


def sha256(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


def v3(ts: int = NOW, **extra: str) -> dict[str, str]:
    fields = {
        "resource_id": UUID,
        "resource_token": sha1_hex(UUID, SALT, ts),
        "timestamp": str(ts),
        "email": "dev@example.com",
        "user_id": "user-1",
        "app": "my-app",
    }
    fields.update(extra)
    return fields


def scoped(ts: int = NOW, user_id: str = "user-1", email: str = "dev@example.com") -> bytes:
    return sha256(UUID, SALT, ts, user_id, email)


def refusal(fields: dict[str, str], now: float = NOW) -> SsoRejected:
    with pytest.raises(SsoRejected) as caught:
        verify(fields, SALT, now)
    return caught.value


def test_v3_resource_token() -> None:
    claim = verify(v3(), SALT, NOW)
    assert claim.scheme is SsoScheme.v3
    assert (claim.ref, claim.email, claim.app, claim.timestamp) == (
        UUID,
        "dev@example.com",
        "my-app",
        NOW,
    )


def test_v3_token_compares_case_insensitively() -> None:
    fields = v3()
    fields["resource_token"] = fields["resource_token"].upper()
    assert verify(fields, SALT, NOW).scheme is SsoScheme.v3


@pytest.mark.parametrize(
    "encode",
    [
        bytes.hex,
        lambda d: d.hex().upper(),
        lambda d: base64.b64encode(d).decode(),
        lambda d: base64.b64encode(d).decode().rstrip("="),
        lambda d: base64.urlsafe_b64encode(d).decode(),
        lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="),
    ],
    ids=["hex", "HEX", "base64", "base64-nopad", "base64url", "base64url-nopad"],
)
def test_user_scoped_token_in_every_encoding(encode: object) -> None:
    fields = v3()
    del fields["resource_token"]
    fields["user_scoped_resource_token"] = encode(scoped())  # type: ignore[operator]
    assert verify(fields, SALT, NOW).scheme is SsoScheme.v3_user_scoped


def test_user_scoped_token_binds_email_and_user() -> None:
    fields = v3(user_scoped_resource_token=scoped().hex())
    assert verify(fields, SALT, NOW).scheme is SsoScheme.v3_user_scoped
    assert refusal({**fields, "email": "evil@example.com"}).field == "user_scoped_resource_token"
    assert refusal({**fields, "user_id": "user-2"}).field == "user_scoped_resource_token"


def test_every_token_sent_must_hold() -> None:
    good_scoped = scoped().hex()
    bad_scoped = scoped(user_id="someone-else").hex()
    assert refusal(v3(user_scoped_resource_token=bad_scoped)).reason == "bad_token"
    assert (
        refusal(v3(user_scoped_resource_token=good_scoped, resource_token="0" * 40)).field
        == "resource_token"
    )


def test_user_scoped_token_needs_user_id() -> None:
    fields = v3(user_scoped_resource_token=scoped().hex())
    del fields["user_id"]
    assert refusal(fields).field == "user_id"


@pytest.mark.parametrize(
    "digest",
    ["", "zz" * 32, "a" * 63, "a" * 65, "é" * 64, base64.b64encode(b"x" * 33).decode(), "=" * 44],
)
def test_malformed_user_scoped_tokens_are_refused(digest: str) -> None:
    fields = v3(user_scoped_resource_token=digest)
    del fields["resource_token"]
    if digest == "":
        # Empty counts as absent, and then no token at all was sent.
        assert refusal(fields).reason == "missing_field"
    else:
        assert refusal(fields).reason == "bad_token"


def test_decode_sha256() -> None:
    digest = bytes(range(32))
    assert decode_sha256(digest.hex()) == digest
    assert decode_sha256(base64.urlsafe_b64encode(digest).decode().rstrip("=")) == digest
    assert decode_sha256(base64.b64encode(digest).decode() + "=") is None
    assert decode_sha256("g" * 64) is None


def test_v1_token_uses_our_id() -> None:
    fields = {
        "id": "gvs-0011223344556677",
        "token": sha1_hex("gvs-0011223344556677", SALT, NOW),
        "timestamp": str(NOW),
        "nav-data": "eyJhZGRvbiI6IllvdXIgQWRkb24ifQ",
        "email": "username@example.com",
        "app": "myapp",
    }
    claim = verify(fields, SALT, NOW)
    assert (claim.scheme, claim.ref, claim.nav_data) == (
        SsoScheme.v1,
        "gvs-0011223344556677",
        "eyJhZGRvbiI6IllvdXIgQWRkb24ifQ",
    )
    assert refusal({**fields, "id": "gvs-other"}).reason == "bad_token"


@pytest.mark.parametrize(
    "age, ok",
    [
        (MAX_AGE_S, True),
        (MAX_AGE_S + 1, False),
        (360, False),  # kensa's stale token
        (-MAX_FUTURE_S, True),
        (-MAX_FUTURE_S - 1, False),
        (-120, False),
    ],
)
def test_timestamp_window(age: int, ok: bool) -> None:
    fields = v3(ts=NOW - age)
    if ok:
        assert verify(fields, SALT, NOW).timestamp == NOW - age
    else:
        assert refusal(fields).reason in {"expired", "future"}


@pytest.mark.parametrize(
    "raw", ["", "1.5", "-1", " 1", "1 ", "1\n", "+1", "1e9", "0x10", "١٢٣", "1" * 13, "'1"]
)
def test_timestamp_must_be_whole_seconds(raw: str) -> None:
    with pytest.raises(SsoRejected):
        parse_timestamp(raw)


def test_token_over_a_non_numeric_timestamp_is_still_refused() -> None:
    # Even with a token computed over the odd string, the format check refuses it.
    fields = v3(timestamp="1780000000.0", resource_token=sha1_hex(UUID, SALT, "1780000000.0"))
    assert refusal(fields).reason == "bad_timestamp"


@pytest.mark.parametrize("missing", ["resource_id", "timestamp", "email", "resource_token"])
def test_missing_v3_fields(missing: str) -> None:
    fields = v3()
    del fields[missing]
    rejected = refusal(fields)
    assert rejected.reason == "missing_field"
    assert rejected.field == missing


@pytest.mark.parametrize("missing", ["token", "timestamp", "email"])
def test_missing_v1_fields(missing: str) -> None:
    fields = {"id": "gvs-1", "token": sha1_hex("gvs-1", SALT, NOW), "timestamp": str(NOW)}
    fields["email"] = "a@example.com"
    del fields[missing]
    assert refusal(fields).field == missing


def test_nothing_recognisable() -> None:
    assert refusal({"hello": "world"}).reason == "missing_field"


@pytest.mark.parametrize(
    "field, value",
    [
        ("app", "x'; DROP TABLE resources; --"),
        ("app", "<script>alert(1)</script>"),
        ("app", "My-App"),
        ("email", "<script>@example.com"),
        ("email", "a b@example.com"),
        ("email", "no-at-sign"),
        ("user_id", "user\r\nSet-Cookie: x=1"),
    ],
)
def test_hostile_display_fields_are_refused(field: str, value: str) -> None:
    assert refusal(v3(**{field: value})).field == field


def test_quotes_in_an_email_are_fine() -> None:
    claim = verify(v3(email='o\'brien+"x"@example.com'), SALT, NOW)
    assert claim.email == 'o\'brien+"x"@example.com'


def test_empty_salt_refuses_everything() -> None:
    fields = v3(resource_token=sha1_hex(UUID, "", NOW))
    with pytest.raises(SsoRejected):
        verify(fields, "", NOW)


def test_collect_fields() -> None:
    assert collect_fields([("email", "a@b.c"), ("other", "x"), ("other", "y")]) == {
        "email": "a@b.c"
    }
    with pytest.raises(SsoRejected, match="more than once"):
        collect_fields([("resource_id", "a"), ("resource_id", "b")])
    with pytest.raises(SsoRejected, match="text"):
        collect_fields([("email", UploadFile(file=None))])  # type: ignore[arg-type]
    with pytest.raises(SsoRejected, match="too long"):
        collect_fields([("email", "a" * 321)])
    assert collect_fields([("nav-data", "n" * 4096)])["nav-data"] == "n" * 4096


@given(token=st.text(max_size=80), ts=st.text(max_size=14))
def test_random_tokens_never_verify(token: str, ts: str) -> None:
    fields = v3(resource_token=token, timestamp=ts)
    try:
        verify(fields, SALT, NOW)
    except SsoRejected:
        return
    # Only the one real token for that timestamp may pass.
    assert token.lower() == sha1_hex(UUID, SALT, ts)


# --- an add-on that cannot be shown: status, Retry-After, and nothing internal ---

JOB_STATES = [None, *ProvisionJobState]


@pytest.mark.parametrize("setup", JOB_STATES)
def test_only_a_provisioned_add_on_is_shown(setup: ProvisionJobState | None) -> None:
    check_ready(ResourceState.provisioned, setup)  # whatever its old job says


@pytest.mark.parametrize(
    "state, setup, reason, status, retry_after",
    [
        *[
            (ResourceState.provisioning, job, "provisioning", 503, 30)
            for job in (None, ProvisionJobState.pending, ProvisionJobState.done)
        ],
        (ResourceState.provisioning, ProvisionJobState.unknown, "unknown_state", 503, 300),
        (ResourceState.provisioning, ProvisionJobState.failed, "setup_stalled", 503, 300),
        *[(ResourceState.deprovisioned, job, "deprovisioned", 410, None) for job in JOB_STATES],
        *[(ResourceState.unknown, job, "unknown_state", 503, 300) for job in JOB_STATES],
    ],
)
def test_an_add_on_that_cannot_be_shown_is_refused_with_its_own_status(
    state: ResourceState,
    setup: ProvisionJobState | None,
    reason: str,
    status: int,
    retry_after: int | None,
) -> None:
    with pytest.raises(SsoRejected) as caught:
        check_ready(state, setup)
    refusal = caught.value
    assert (refusal.reason, refusal.status, refusal.retry_after) == (reason, status, retry_after)
    assert refusal.title != "Sign-in refused"
    shown = f"{refusal.title} {refusal.message}".lower()
    for word in ("provision", "unknown", "state", "pending", "failed", "error", "job"):
        assert word not in shown, word

"""What an error does at run time: the answer, the connection under it, its log line
(issue 6, items 2, 3 and 11)."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from guvscale.db.engine import transient, unavailable
from guvscale.heroku.errors import from_transport
from guvscale.redact import REDACTED, redact_url, scrub
from guvscale.settings import Settings
from guvscale.web.app import create_app
from guvscale.web.logs import JsonFormatter
from tests.factories import sso_v3_form
from tests.live_server import RawHttp, uvicorn_thread
from tests.partner_helpers import headers, provision_body
from tests.web_fixtures import make_settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def with_failing_route(app: FastAPI) -> FastAPI:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    return app


@pytest.fixture
def crashing_app(settings: Settings, engine: Engine, sessions: object) -> FastAPI:
    return with_failing_route(create_app(settings, engine=engine, run_background=False))


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged, as the production formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# -- item 3: a 500 leaves the keep-alive connection usable --------------------


OVERSIZED = {"Content-Length": "200000"}, b"x" * 200_000  # past MAX_BODY_BYTES


@pytest.mark.parametrize(
    "method, path, sent, status",
    [
        ("GET", "/boom", ({}, b""), 500),
        ("POST", "/health", OVERSIZED, 413),
        ("GET", "/no/such/page", ({}, b""), 404),
    ],
)
def test_an_error_leaves_the_keep_alive_connection_usable_or_says_close(
    crashing_app: FastAPI, method: str, path: str, sent: tuple[dict[str, str], bytes], status: int
) -> None:
    with uvicorn_thread(crashing_app) as port:
        conn = RawHttp(port)
        try:
            conn.request(method, path, *sent)
            first = conn.response()
            assert first is not None, "the server dropped the connection instead of answering"
            assert first[0] == status
            assert "id" in json.loads(first[2])
            if first[1].get("connection", "").lower() == "close":
                assert conn.response() is None  # said so, and closed: the client knows
                return
            conn.request("GET", "/health")
            second = conn.response()
            assert second is not None, f"{status} without Connection: close, then the line died"
            assert second[0] == 200
        finally:
            conn.close()


def test_a_500_answers_a_browser_with_a_page(crashing_app: FastAPI) -> None:
    with TestClient(crashing_app) as client:
        r = client.get("/boom", headers=BROWSER)
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in r.text
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"


# -- item 11: the log line of an unhandled error ------------------------------


def test_an_unhandled_error_is_logged_once_with_message_and_whole_traceback(
    crashing_app: FastAPI, json_log: io.StringIO
) -> None:
    with TestClient(crashing_app) as client:
        r = client.get("/boom", headers={"X-Request-Id": "req-42"})
    assert r.status_code == 500
    errors = [line for line in lines(json_log) if line["level"] == "error"]
    assert len(errors) == 1, errors
    (line,) = errors
    message = str(line["message"])
    assert "unhandled error" in message and "/boom" in message and "RuntimeError" in message
    assert line["request_id"] == "req-42"
    trace = str(line["traceback"])
    assert trace.startswith("Traceback (most recent call last)")
    assert 'in boom\n    raise RuntimeError("kaboom")' in trace  # the frame that raised
    assert trace.rstrip().endswith("RuntimeError: kaboom")
    assert line["error"] == "RuntimeError: kaboom"


def log_record(message: str, *args: object, fields: dict[str, object] | None = None) -> str:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, message, args, None)
    if fields is not None:
        record.fields = fields
    return JsonFormatter().format(record)


def test_secret_fields_headers_and_url_passwords_are_redacted_whole() -> None:
    out = json.loads(
        log_record(
            "connect to %s failed",
            "amqps://guvscale:hunter2-pw@rabbit.example.com/vhost",
            fields={
                "event": "call",
                "authorization": "Basic Z3V2c2NhbGU6cGFzcw==",
                "headers": {"Cookie": "gvs_session=abc", "Accept": "application/json"},
                "oauth_grant": {"code": "c", "expires_at": "2026-12-01T00:00:00Z"},
                "status_code": 200,
            },
        )
    )
    assert "hunter2" not in json.dumps(out)
    masked = f"amqps://guvscale:{REDACTED}@rabbit.example.com/vhost"
    assert out["message"] == f"connect to {masked} failed"
    assert out["authorization"] == REDACTED
    assert out["headers"] == {"Cookie": REDACTED, "Accept": "application/json"}
    assert out["oauth_grant"] == {"code": REDACTED, "expires_at": "2026-12-01T00:00:00Z"}
    assert out["status_code"] == 200 and out["event"] == "call"


def test_a_short_secret_is_not_redacted_inside_other_words() -> None:
    error = from_transport(httpx.ConnectError("All connection attempts failed"), ("c",))
    assert error.message == "ConnectError: All connection attempts failed"
    # Too short to tell from the message's own words: left alone outside userinfo.
    assert scrub("Token c is not valid; code=c&next=1", ["c"]) == (
        "Token c is not valid; code=c&next=1"
    )
    token = "HRKU-0a1b2c3d-4e5f"
    assert scrub(f"Bearer {token} refused", [token]) == f"Bearer {REDACTED} refused"
    assert scrub(f"Bearer {token}x refused", [token]) == f"Bearer {token}x refused"
    assert redact_url("postgres://u:p%40ss@db:5432/x") == f"postgres://u:{REDACTED}@db:5432/x"
    assert redact_url("https://example.com/a") == "https://example.com/a"


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        pytest.param(
            "Bearer HRKU-0a1b2c3d-4e5f refused (token HRKU-0a1b2c3d-4e5f)",
            ["HRKU-0a1b2c3d-4e5f"],
            f"Bearer {REDACTED} refused (token {REDACTED})",
            id="normal-secret",
        ),
        pytest.param(
            "connect to amqps://guvscale:hunter2-pw@rabbit.example.com/vh failed",
            [],
            f"connect to amqps://guvscale:{REDACTED}@rabbit.example.com/vh failed",
            id="url-password-unknown-to-the-caller",
        ),
        pytest.param(
            "ConnectError: user:pw-9d8c7b6a5f@rabbit.example refused",
            ["pw-9d8c7b6a5f"],
            f"ConnectError: user:{REDACTED}@rabbit.example refused",
            id="known-password-in-schemeless-userinfo",
        ),
        pytest.param(
            "AMQPConnectionError: a connection to amqp://guest:a@rabbit.example:5672/a"
            " failed: a timeout after waiting",
            ["a"],
            f"AMQPConnectionError: a connection to amqp://guest:{REDACTED}@rabbit.example:5672/a"
            " failed: a timeout after waiting",
            id="one-letter-password-only-in-the-url",
        ),
        pytest.param(
            "cannot reach user:x@rabbit.example: x509 certificate expired, retry x",
            ["x"],
            f"cannot reach user:{REDACTED}@rabbit.example: x509 certificate expired, retry x",
            id="one-letter-password-in-schemeless-userinfo",
        ),
        pytest.param(
            "ConnectError: All connection attempts failed",
            ["", "", "c"],
            "ConnectError: All connection attempts failed",
            id="empty-and-short-secrets-ignored",
        ),
        pytest.param("nothing secret here", [""], "nothing secret here", id="only-empty-secret"),
    ],
)
def test_scrub_table(text: str, secrets: list[str], expected: str) -> None:
    assert scrub(text, secrets) == expected


# -- item 2, without a server to stop: 503, Retry-After, HTML or JSON, one log line


@pytest.fixture
def dead_db_client() -> Iterator[TestClient]:
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_app(make_settings(), engine=dead, run_background=False)
    with TestClient(app) as client:
        yield client
    dead.dispose()


def test_partner_calls_answer_503_json_with_retry_after_while_the_database_is_down(
    dead_db_client: TestClient,
) -> None:
    r = dead_db_client.post("/heroku/resources", json=provision_body(), headers=headers())
    assert r.status_code == 503
    assert r.json()["id"] == "database_unavailable"
    assert int(r.headers["retry-after"]) > 0
    delete = dead_db_client.delete(f"/heroku/resources/{uuid.uuid4()}", headers=headers())
    assert delete.status_code == 503


def test_sso_answers_a_503_page_while_the_database_is_down(
    dead_db_client: TestClient, json_log: io.StringIO
) -> None:
    form = sso_v3_form(str(uuid.uuid4()), make_settings().sso_salt)
    for _ in range(5):
        r = dead_db_client.post("/sso/login", data=form, headers=BROWSER)
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("text/html")
        assert "Temporarily unavailable" in r.text
        assert int(r.headers["retry-after"]) > 0
    logged = lines(json_log)
    assert not any("traceback" in line for line in logged)
    outage = [line for line in logged if line["logger"] == "guvscale.db"]
    assert len(outage) == 1 and "database unreachable" in str(outage[0]["message"])


# -- which database errors are an outage, which a lost conflict -----------------


def sa_error(orig: Exception) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "orig, is_unavailable, is_transient",
    [
        (psycopg.OperationalError("connection failed: Connection refused"), True, False),
        (
            psycopg.errors.AdminShutdown("terminating connection"),
            True,
            False,
        ),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True, False),
        (psycopg.errors.TooManyConnections("sorry, too many clients already"), True, False),
        (psycopg.errors.DeadlockDetected("deadlock detected"), False, True),
        (psycopg.errors.SerializationFailure("could not serialize access"), False, True),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False, True),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), False, True),
    ],
)
def test_an_outage_is_told_apart_from_a_lost_conflict(
    orig: Exception, is_unavailable: bool, is_transient: bool
) -> None:
    assert unavailable(sa_error(orig)) is is_unavailable
    assert transient(sa_error(orig)) is is_transient


def test_a_lost_conflict_is_a_503_but_no_outage(
    crashing_app: FastAPI, json_log: io.StringIO
) -> None:
    @crashing_app.get("/deadlock")
    def deadlock() -> None:
        raise sa_error(psycopg.errors.DeadlockDetected("deadlock detected"))

    with TestClient(crashing_app) as client:
        r = client.get("/deadlock")
    assert r.status_code == 503 and r.json()["id"] == "try_again"
    assert "retry-after" in r.headers
    assert not crashing_app.state.outage.down
    assert not [line for line in lines(json_log) if line["logger"] == "guvscale.db"]


def test_a_logged_database_error_names_itself_not_sqlalchemys_footnote() -> None:
    try:
        raise sa_error(psycopg.errors.UndefinedTable('relation "provision_jobs" does not exist'))
    except OperationalError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "round failed", (), sys.exc_info()
        )
    out = json.loads(JsonFormatter().format(record))
    assert out["error"].startswith("OperationalError: (psycopg.errors.UndefinedTable) relation")
    assert "sqlalche.me" in out["traceback"]  # the footnote stays, in the traceback

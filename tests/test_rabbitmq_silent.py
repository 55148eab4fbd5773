"""The AMQP fallback against brokers that stop answering: the call costs the
caller its timeout, never its thread (tests/silent_broker.py plays the broker)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from guvscale.rabbitmq import BrokerUnreachable, passive_declare
from tests.raw_server import self_signed
from tests.silent_broker import STEPS, SilentBroker, Step
from tests.waiting import returns_within

HANG_GUARD = 30.0  # seconds; a call bounded at 1 s that is still running by then hangs


@pytest.mark.parametrize("step", STEPS)
def test_a_broker_that_goes_silent_costs_the_timeout_not_the_thread(step: Step) -> None:
    with SilentBroker(step) as broker:

        def call() -> tuple[int, int]:
            return passive_declare(broker.url, "jobs", timeout=1)

        with pytest.raises(BrokerUnreachable) as caught:
            returns_within(call, timeout=HANG_GUARD)
        assert broker.connections == 1
        assert broker.declares == (1 if step == "declare" else 0)
    assert "silent-secret-pw" not in str(caught.value)
    assert "****" in str(caught.value)


def test_a_server_that_is_not_a_broker_is_unreachable() -> None:
    # The management API's HTTP port: it answers the AMQP header with an HTTP error.
    with pytest.raises(BrokerUnreachable):
        returns_within(
            lambda: passive_declare("amqp://guest:guest@127.0.0.1:15672/", "jobs", timeout=2),
            timeout=HANG_GUARD,
        )


def tls_context(tmp_path: Path) -> ssl.SSLContext:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_over_tls_a_silent_broker_costs_the_timeout_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # trust the test's own
    with SilentBroker("declare", tls=tls_context(tmp_path)) as broker:
        with pytest.raises(BrokerUnreachable, match="no answer"):
            returns_within(
                lambda: passive_declare(broker.url, "jobs", timeout=1), timeout=HANG_GUARD
            )
        assert broker.declares == 1  # TLS and the handshake went through first


def test_over_tls_a_certificate_we_do_not_trust_is_refused(tmp_path: Path) -> None:
    with SilentBroker("declare", tls=tls_context(tmp_path)) as broker:
        with pytest.raises(BrokerUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            returns_within(
                lambda: passive_declare(broker.url, "jobs", timeout=5), timeout=HANG_GUARD
            )
        assert broker.declares == 0

"""AMQP 0-9-1 passive queue.declare: the fallback when the management API is down.

It returns only the ready count (not unacknowledged) and the consumer count,
so a busy worker looks idle: callers mark such readings partial and never
scale down on them. Synchronous; run it in a thread from async code.

The whole call, from connect to close, is bounded by its timeout: every read
and write on the socket waits at most until one deadline. pika's
BlockingConnection could not do that: once the connection is open it has no
read timeout (its timers fire only between calls), so a broker that completed
the handshake and then never answered queue.declare held the calling thread
for good. pika is used here only to encode and decode frames.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pika.exceptions
import pika.frame
import pika.spec

from guvscale.rabbitmq.errors import (
    BrokerAuthFailed,
    BrokerError,
    BrokerRefused,
    BrokerUnreachable,
    QueueMissing,
)
from guvscale.rabbitmq.urls import AMQP_SCHEMES, mask_url, public_address, vhost_of
from guvscale.redact import scrub

# AMQP reply codes on a closed channel.
NOT_FOUND = 404
ACCESS_REFUSED = 403

CHANNEL = 1
# The largest frame we take (pika's default): these answers are a few hundred
# bytes, and a broker announcing a bigger one would make us buffer it all.
FRAME_MAX = 131_072
CLIENT_PROPERTIES = {
    "product": "guvscale",
    "connection_name": "guvscale passive declare",
    # Without it RabbitMQ answers a wrong password by dropping the connection,
    # which reads like a network fault.
    "capabilities": {"authentication_failure_close": True},
}


def passive_declare(
    amqp_url: str, queue: str, *, timeout: float, allow_private: bool = True
) -> tuple[int, int]:
    """(ready, consumers) of the queue; raises a BrokerError, never pika's.

    Returns or raises within `timeout` seconds (name resolution aside).
    With `allow_private=False` the host is resolved, refused unless every
    address is public, and the connection goes to the address checked.
    """
    deadline = time.monotonic() + timeout
    target = _target(amqp_url, allow_private)
    where = mask_url(amqp_url)

    def detail(exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer within {timeout:g}s"
        return scrub(f"{type(exc).__name__}: {exc}", target.secrets)

    try:
        connection = _Connection.open(target, deadline)
    except OSError as exc:
        raise BrokerUnreachable(f"{where}: cannot connect ({detail(exc)})") from None
    try:
        _login(connection, target, where)
        connection.send(pika.spec.Channel.Open(), CHANNEL)
        connection.expect(CHANNEL, pika.spec.Channel.OpenOk)
        connection.send(pika.spec.Queue.Declare(queue=queue, passive=True), CHANNEL)
        ok = connection.expect(CHANNEL, pika.spec.Queue.DeclareOk)
        return int(ok.message_count), int(ok.consumer_count)
    except _ChannelClosed as exc:
        if exc.code == NOT_FOUND:
            raise QueueMissing(
                f"queue {queue!r} not found in vhost {vhost_of(amqp_url)!r}"
            ) from None
        if exc.code == ACCESS_REFUSED:
            raise BrokerAuthFailed(f"{where}: access to queue {queue!r} refused") from None
        raise BrokerError(f"{where}: broker closed the channel ({exc.code})") from None
    except _BrokerClosed as exc:
        why = "" if exc.code is None else f" ({exc.code})"
        raise BrokerUnreachable(f"{where}: the broker closed the connection{why}") from None
    except _Garbled as exc:
        raise BrokerUnreachable(f"{where}: not an AMQP 0-9-1 answer ({exc})") from None
    except pika.exceptions.AMQPError as exc:  # a name too long for a frame
        raise BrokerError(f"{where}: cannot ask the broker ({type(exc).__name__})") from None
    except OSError as exc:
        raise BrokerUnreachable(f"{where}: {detail(exc)}") from None
    finally:
        connection.close()


def _login(connection: _Connection, target: _Target, where: str) -> None:
    start = connection.expect(0, pika.spec.Connection.Start)
    mechanisms = start.mechanisms
    if isinstance(mechanisms, bytes):
        mechanisms = mechanisms.decode("latin-1")
    if "PLAIN" not in str(mechanisms).split():
        raise BrokerError(f"{where}: the broker offers no PLAIN login")
    login = b"\0" + target.user.encode() + b"\0" + target.password.encode()
    connection.send(pika.spec.Connection.StartOk(CLIENT_PROPERTIES, "PLAIN", login, "en_US"))
    try:
        tune = connection.expect(0, pika.spec.Connection.Tune)
    except _BrokerClosed:
        raise BrokerAuthFailed(f"{where}: the broker refused the user and password") from None
    frame_max = min(tune.frame_max or FRAME_MAX, FRAME_MAX)
    # Heartbeat 0: the connection lives for one call, bounded by its deadline.
    connection.send(pika.spec.Connection.TuneOk(tune.channel_max, frame_max, 0))
    connection.send(pika.spec.Connection.Open(virtual_host=target.vhost))
    try:
        connection.expect(0, pika.spec.Connection.OpenOk)
    except _BrokerClosed:
        raise BrokerAuthFailed(f"{where}: the user may not use this vhost") from None
    connection.opened = True


class _Failure(Exception):
    """Raised inside this module only; passive_declare turns each into a BrokerError."""


class _BrokerClosed(_Failure):
    """Connection.Close from the broker, or the connection ended (code None)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


class _ChannelClosed(_Failure):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Garbled(_Failure):
    """Bytes that are not the AMQP 0-9-1 we expect."""


@dataclass(frozen=True)
class _Target:
    host: str  # to dial: the URL's host, or the public address checked for it
    port: int
    tls_name: str | None  # the certificate's name, over TLS
    vhost: str
    user: str
    password: str
    secrets: list[str]  # to scrub from error text


class _Connection:
    """One AMQP connection on a blocking socket. Every read and write waits at
    most until `deadline`, so a broker that stalls, goes silent or trickles
    bytes costs the caller the timeout, never its thread."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self.opened = False  # Connection.OpenOk received
        self._closed_by_broker = False

    @classmethod
    def open(cls, target: _Target, deadline: float) -> _Connection:
        sock = socket.create_connection((target.host, target.port), timeout=_left(deadline))
        try:
            if target.tls_name is not None:
                sock.settimeout(_left(deadline))
                context = ssl.create_default_context()
                # The certificate is checked against the URL's host, whichever address we dial.
                sock = context.wrap_socket(sock, server_hostname=target.tls_name)
            connection = cls(sock, deadline)
            connection._write(bytes(pika.frame.ProtocolHeader().marshal()))
        except BaseException:
            sock.close()
            raise
        return connection

    def send(self, method: Any, channel: int = 0) -> None:
        self._write(bytes(pika.frame.Method(channel, method).marshal()))

    def expect(self, channel: int, kind: type) -> Any:
        """The next method, which must be `kind` on `channel`; a close raises."""
        while True:
            frame = self._frame()
            if isinstance(frame, pika.frame.Heartbeat):
                continue
            if not isinstance(frame, pika.frame.Method):
                raise _Garbled(f"a {type(frame).__name__} frame")
            method = frame.method
            if isinstance(method, pika.spec.Connection.Close):
                self._closed_by_broker = True
                raise _BrokerClosed(int(method.reply_code))
            if frame.channel_number != channel:
                raise _Garbled(f"{method.NAME} on channel {frame.channel_number}")
            if isinstance(method, pika.spec.Channel.Close):
                raise _ChannelClosed(int(method.reply_code))
            if not isinstance(method, kind):
                raise _Garbled(f"{method.NAME} instead of {kind.NAME}")  # type: ignore[attr-defined]
            return method

    def close(self) -> None:
        # The answer is read (or the call has failed): a close that fails or
        # stalls changes nothing for the caller, and the deadline bounds it.
        with contextlib.suppress(OSError, _Failure):
            if self._closed_by_broker:
                self.send(pika.spec.Connection.CloseOk())
            elif self.opened:
                self.send(pika.spec.Connection.Close(200, "Normal shutdown", 0, 0))
                self.expect(0, pika.spec.Connection.CloseOk)
        self._sock.close()

    def _frame(self) -> Any:
        head = self._read(7)
        if head.startswith(b"AMQP"):
            raise _Garbled("the broker wants another protocol version")
        size = struct.unpack(">L", head[3:])[0]
        if size > FRAME_MAX:
            raise _Garbled(f"a frame of {size} bytes")
        data = head + self._read(size + 1)
        try:
            _, frame = pika.frame.decode_frame(data)
        # pika's decoders raise all of these on malformed input.
        except (pika.exceptions.AMQPError, struct.error, ValueError, KeyError, IndexError):
            raise _Garbled("an unreadable frame") from None
        if frame is None:
            raise _Garbled("an unreadable frame")
        return frame

    def _read(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            self._sock.settimeout(_left(self._deadline))
            chunk = self._sock.recv(count - len(data))
            if not chunk:
                self._closed_by_broker = True  # nothing to say goodbye to
                raise _BrokerClosed(None)
            data += chunk
        return bytes(data)

    def _write(self, data: bytes) -> None:
        # A timeout on sendall bounds the whole send (Python 3.5+), not each chunk.
        self._sock.settimeout(_left(self._deadline))
        self._sock.sendall(data)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _target(amqp_url: str, allow_private: bool) -> _Target:
    try:
        parts = urlsplit(amqp_url.strip())
        port = parts.port
    except ValueError:
        raise BrokerRefused(f"not a valid URL: {mask_url(amqp_url)}") from None
    if parts.scheme not in AMQP_SCHEMES or not parts.hostname:
        raise BrokerRefused(f"not an amqp(s)://host URL: {mask_url(amqp_url)}")
    password = unquote(parts.password or "guest")
    tls = parts.scheme == "amqps"
    # Query arguments are ignored on purpose: a user-supplied one could turn
    # certificate checks off.
    return _Target(
        host=parts.hostname if allow_private else public_address(parts.hostname, port),
        port=port or (5671 if tls else 5672),
        tls_name=parts.hostname if tls else None,
        vhost=vhost_of(amqp_url),
        user=unquote(parts.username or "guest"),
        password=password,
        secrets=[s for s in {password, parts.password or ""} if s],
    )

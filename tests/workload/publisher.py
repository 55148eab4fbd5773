"""Publish jobs to a RabbitMQ queue, as a customer's app would.

    python -m tests.workload.publisher --url amqp://guest:guest@127.0.0.1:5672/%2F \
        --queue jobs --count 1200 [--rate 100]

Each message's body is its job number; its headers carry `published_at`
(epoch seconds) so consumers can tell how long it waited, and optionally
`processing` (seconds) to override the consumer's default.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import pika


def publish(
    url: str,
    queue: str,
    count: int,
    *,
    rate: float | None = None,
    durable: bool = False,
    processing: float | Callable[[int], float] | None = None,
    first: int = 0,
    linger_until: Callable[[], bool] | None = None,
) -> int:
    """Publish `count` jobs (all at once, or `rate` a second); returns how many were sent.
    `processing` (seconds), fixed or drawn per job, overrides the consumer's own.
    `linger_until`: keep the connection open until it returns true (at most 30 s)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=durable)
        channel.confirm_delivery()  # each publish returns once the broker has it
        started = time.monotonic()
        for i in range(count):
            if rate:
                pause = started + i / rate - time.monotonic()
                if pause > 0:
                    connection.sleep(pause)
            # Strings: AMQP tables in pika carry no floats.
            headers: dict[str, object] = {"published_at": repr(time.time())}
            if processing is not None:
                seconds = processing(i) if callable(processing) else processing
                headers["processing"] = repr(seconds)
            channel.basic_publish(
                "",
                queue,
                str(first + i).encode(),
                pika.BasicProperties(
                    headers=headers,
                    timestamp=int(time.time()),
                    delivery_mode=2 if durable else 1,
                ),
            )
        # The broker counts a channel's publishes in its queue statistics when
        # the channel next reports (every few seconds); closing it first was
        # seen to lose them, leaving a queue with no message_stats at all.
        until = time.monotonic() + 30
        while linger_until is not None and not linger_until() and time.monotonic() < until:
            connection.sleep(0.25)
        return count
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.workload.publisher")
    parser.add_argument("--url", required=True, help="AMQP URL")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=None, help="jobs per second; default all")
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--processing", type=float, default=None)
    args = parser.parse_args(argv)
    sent = publish(
        args.url,
        args.queue,
        args.count,
        rate=args.rate,
        durable=args.durable,
        processing=args.processing,
    )
    print(f"published {sent} jobs to {args.queue}", flush=True)


if __name__ == "__main__":
    main()

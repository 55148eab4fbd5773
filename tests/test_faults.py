"""Fault tests on the whole system (tests/sandbox.py): each breaks one thing the
worker depends on mid-run and checks that it never scales down on missing data,
loses no event, applies no change twice, and recovers by itself.

The machine's RabbitMQ and PostgreSQL are shared, so outages are made with a TCP
proxy in front of them (tests/tcp_proxy.py), never by stopping them. The queue
has no consumers: publishing makes the role want its maximum, purging makes it
want its minimum, so the formation tells what the worker decided.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e_fixtures import check_ledger, role_status, worker_state
from tests.rabbitmq_fixtures import Broker, ProxiedBroker
from tests.sandbox import Sandbox, Tenant
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_until

LOW, HIGH = 1, 4
STATS_LAG = 12  # seconds: the management API refreshes queue figures every 5 s, plus ticks

pytestmark = pytest.mark.system


def rules(queue: str) -> str:
    # guv's model with a 3 s look-back: down within a few 1 s ticks once the queue is empty.
    return (
        '"*":\n  history: 3\n'
        f"jobs:\n  queue: {queue}\n  model: guv\n  minimum: {LOW}\n  maximum: {HIGH}\n"
        "  processing: 1\n  deadline: 20\n"
    )


@dataclass
class Scene:
    box: Sandbox
    sessions: sessionmaker[Session]
    tenant: Tenant
    queue: str
    broker: Broker  # the real broker, for the test's own publishing and purging

    def quantity(self) -> int:
        return self.box.quantity(self.tenant, "jobs")

    def fill(self, jobs: int = 100) -> None:
        self.broker.publish(self.queue, jobs)

    def purge(self) -> None:
        self.broker.purge(self.queue)

    def reach(self, quantity: int, timeout: float = 60) -> None:
        assert wait_until(lambda: self.quantity() == quantity, timeout=timeout), (
            f"formation {self.quantity()}, wanted {quantity}: {self.status()}\n{self.logs()}"
        )

    def logs(self) -> str:
        """The workers' last log lines, HTTP request lines left out."""
        lines = [
            f"{w.name}: {line}"
            for w in self.box.workers
            for line in w.output().splitlines()
            if '"logger": "httpx"' not in line
        ]
        return "\n".join(lines[-20:])

    def status(self) -> object:
        state = worker_state(self.sessions, self.tenant)
        return state.status if state is not None else None

    def error(self) -> str:
        """The tenant's error and the role's, as the status API shows them."""
        status = self.status()
        tenant_error = status.get("error") if isinstance(status, dict) else None
        role_error = role_status(self.sessions, self.tenant, "jobs").get("error")
        return f"{tenant_error or ''} {role_error or ''}"

    def hold(self, seconds: float, at_least: int) -> None:
        """The formation never drops below `at_least` for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert self.quantity() >= at_least, f"scaled down on missing data: {self.status()}"
            time.sleep(0.1)

    def scaled_up(self) -> None:
        """Fill the queue and wait for the maximum: the starting point of most faults."""
        self.fill()
        self.reach(HIGH)


@pytest.fixture
def scene(
    sandbox: Sandbox,
    sessions: sessionmaker[Session],
    broker: Broker,
    proxied_broker: ProxiedBroker,
) -> Callable[..., Scene]:
    """Web, one tenant (app fault-app, jobs=1) reading the broker through the proxies."""

    def make(*, workers: int = 1, **worker_env: str) -> Scene:
        queue = broker.queue("fault")
        sandbox.start_web()
        tenant = sandbox.add_tenant(
            app="fault-app",
            formation={"web": 1, "jobs": LOW},
            rules=rules(queue),
            broker_url=proxied_broker.url,
            management_url=proxied_broker.management_url,
        )
        for _ in range(workers):
            sandbox.start_worker(**worker_env)
        return Scene(sandbox, sessions, tenant, queue, broker)

    return make


def ticked_since(s: Scene, moment: float) -> bool:
    state = worker_state(s.sessions, s.tenant)
    return bool(state and state.last_tick_at and state.last_tick_at.timestamp() > moment)


# -- the broker ----------------------------------------------------------------------


def test_rabbitmq_gone_holds_the_formation_then_recovers(
    scene: Callable[..., Scene], proxied_broker: ProxiedBroker
) -> None:
    s = scene()
    s.scaled_up()
    proxied_broker.amqp.cut()
    proxied_broker.management.cut()
    s.purge()  # were the worker to see it, it would scale down
    assert wait_until(lambda: s.error().strip(), timeout=30), s.status()
    s.hold(STATS_LAG, HIGH)
    proxied_broker.amqp.restore()
    proxied_broker.management.restore()
    s.reach(LOW)
    check_ledger(s.box, s.sessions, s.tenant)


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_management_api_failing_falls_back_to_partial_data_and_never_scales_down(
    scene: Callable[..., Scene], proxied_broker: ProxiedBroker, fault: str
) -> None:
    s = scene()
    s.scaled_up()
    if fault == "500":
        proxied_broker.management.answer(500)
    else:
        proxied_broker.management.hang()
    s.purge()
    # AMQP still answers: the passive declare sees ready = 0, but a partial reading
    # (no unacked count: a busy worker looks idle) never justifies a scale-down.
    assert wait_until(
        lambda: role_status(s.sessions, s.tenant, "jobs").get("partial"), timeout=30
    ), s.status()
    s.hold(STATS_LAG, HIGH)
    proxied_broker.management.restore()
    s.reach(LOW)
    check_ledger(s.box, s.sessions, s.tenant)


# -- Heroku ---------------------------------------------------------------------------


def test_heroku_429_for_a_stretch_waits_without_hammering_then_scales(
    scene: Callable[..., Scene],
) -> None:
    s = scene()
    assert wait_until(lambda: ticked_since(s, 0), timeout=60), s.status()
    fake = s.box.fake
    # Every call answered 429 for a stretch, each saying to retry in 4 s (without
    # Retry-After the worker waits a minute for the refill: too long for a test).
    fake.fail_next(100_000, 429, retry_after=4)
    before = len(fake.requests)
    s.fill()
    assert wait_until(lambda: "rate limit" in s.error(), timeout=60), s.status()
    s.hold(STATS_LAG, LOW)
    assert s.quantity() == LOW
    # Paced, not a tight loop: about one call per Retry-After, not hundreds.
    calls = len(fake.requests) - before
    assert calls <= 3 + (STATS_LAG + 30) / 4, [r.path for r in fake.requests[before:]]
    with fake.lock:
        fake.faults.clear()
    s.reach(HIGH)
    s.purge()
    s.reach(LOW)
    check_ledger(s.box, s.sessions, s.tenant)


def test_heroku_500s_and_a_lost_answer_apply_each_change_once(
    scene: Callable[..., Scene],
) -> None:
    s = scene()
    assert wait_until(lambda: ticked_since(s, 0), timeout=60), s.status()
    fake = s.box.fake
    fake.fail_next(3, 500, method="PATCH")
    s.scaled_up()  # retried through the 500s
    # The next change goes through at Heroku but its answer never arrives (timeout).
    fake.hang_next(1, seconds=6, apply=True, method="PATCH")
    s.purge()
    s.reach(LOW, timeout=90)
    # Past the held PATCH's landing: it changed nothing more.
    assert wait_until(lambda: all(p.status for p in s.box.patches(s.tenant)), timeout=30)
    s.hold(2, LOW)
    assert sum(r.status == 500 for r in s.box.patches(s.tenant)) == 3
    check_ledger(s.box, s.sessions, s.tenant)


def test_heroku_401_stops_using_the_token_until_a_new_one_is_saved(
    scene: Callable[..., Scene],
) -> None:
    s = scene()
    assert wait_until(lambda: ticked_since(s, 0), timeout=60), s.status()
    fake = s.box.fake
    fake.revoke(s.tenant.heroku_token)
    s.fill()
    assert wait_until(lambda: "refused the token" in s.error(), timeout=60), s.status()
    refused = len(fake.requests)
    s.hold(5, LOW)
    assert len(fake.requests) == refused, "kept calling Heroku with a refused token"
    # The owner makes a new token and saves it: scaling resumes, no restart needed.
    fresh = fake.add_user_token(user_id=fake.account_of(s.tenant.heroku_token).user_id)
    s.box.put_credentials(s.tenant, {"herokuToken": fresh})
    s.reach(HIGH, timeout=90)
    check_ledger(s.box, s.sessions, s.tenant)


# -- the database and the workers ------------------------------------------------------


def test_database_connection_dropped_the_worker_carries_on(
    scene: Callable[..., Scene], database_url: str
) -> None:
    url = make_url(database_url)
    socket_dir = url.query.get("host")
    target = (
        f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
        if isinstance(socket_dir, str)
        else (url.host or "127.0.0.1", url.port or 5432)
    )
    with TcpProxy(target) as db:
        proxied = url.set(host="127.0.0.1", port=db.port, query={}).render_as_string(
            hide_password=False
        )
        s = scene(DATABASE_URL=proxied)
        s.scaled_up()
        [worker] = s.box.workers
        db.cut()
        s.purge()
        s.hold(8, HIGH)
        assert worker.alive, worker.output()[-3000:]
        db.restore()
        cut_over = time.time()
        assert wait_until(lambda: ticked_since(s, cut_over), timeout=60), worker.output()[-3000:]
        s.reach(LOW)
        assert worker.alive
        # Inside the block: the round that scaled down saves its outcome through the proxy.
        check_ledger(s.box, s.sessions, s.tenant)


def test_worker_killed_mid_tick_the_other_takes_over_and_applies_once(
    scene: Callable[..., Scene],
) -> None:
    s = scene(workers=2)
    assert wait_until(lambda: ticked_since(s, 0), timeout=60), s.status()
    fake = s.box.fake
    # The scale-up PATCH reaches Heroku and is held there: its sender is mid-tick.
    fake.hang_next(1, seconds=60, apply=True, method="PATCH")
    s.fill()
    assert wait_until(lambda: fake.requests_to("PATCH"), timeout=60), s.status()
    owner = holder(s)
    victim = next(w for w in s.box.workers if owner.startswith(w.name + ":"))
    victim.kill()
    fake.release_held()  # Heroku applies it; the answer goes nowhere
    s.reach(HIGH, timeout=60)
    survivor = next(w for w in s.box.workers if w is not victim)
    taken = time.time()
    assert wait_until(lambda: ticked_since(s, taken), timeout=60), survivor.output()[-3000:]
    s.hold(3, HIGH)
    s.purge()
    s.reach(LOW)
    ups = [
        r
        for r in fake.requests_to("PATCH")
        if r.json == {"updates": [{"type": "jobs", "quantity": HIGH}]}
    ]
    assert len(ups) == 1, "the change was applied twice"
    check_ledger(s.box, s.sessions, s.tenant)


def holder(s: Scene) -> str:
    state = worker_state(s.sessions, s.tenant)
    assert state is not None and state.lease_owner, "nobody holds the tenant mid-tick"
    return state.lease_owner


# -- one tenant's unreadable data -----------------------------------------------------


def test_a_tenant_whose_rules_credentials_or_state_cannot_be_read_stops_nobody(
    sandbox: Sandbox,
    sessions: sessionmaker[Session],
    broker: Broker,
) -> None:
    sandbox.start_web()
    names = ["good-app", "bad-rules-app", "bad-creds-app", "bad-state-app"]
    scenes = {}
    for name in names:
        queue = broker.queue(name)
        tenant = sandbox.add_tenant(
            app=name, formation={"jobs": LOW}, rules=rules(queue), broker_url=broker.url
        )
        scenes[name] = Scene(sandbox, sessions, tenant, queue, broker)
    good, bad_rules, bad_creds, bad_state = (scenes[n] for n in names)
    with sessions.begin() as db:
        db.execute(
            text(
                "INSERT INTO rules_versions (resource_id, version, yaml_text, author, created_at)"
                " VALUES (:rid, 99, 'jobs: [unclosed', 'api', now())"
            ),
            {"rid": bad_rules.tenant.resource_id},
        )
        db.execute(
            text(
                "UPDATE credentials SET heroku_token_enc = 'not a ciphertext'"
                " WHERE resource_id = :rid"
            ),
            {"rid": bad_creds.tenant.resource_id},
        )
    sandbox.start_worker()
    assert wait_until(lambda: ticked_since(bad_state, 0), timeout=60), bad_state.status()

    def spoil_state() -> bool:
        # The worker writes the state back each tick: spoil it until a tick has read it so.
        with sessions.begin() as db:
            db.execute(
                text(
                    "UPDATE tenant_worker_state SET memory = jsonb_set(memory, "
                    '\'{roles,jobs,scaler}\', \'{"model": "guv", "estimates": ["x"]}\')'
                    " WHERE resource_id = :rid AND lease_owner IS NULL"
                ),
                {"rid": bad_state.tenant.resource_id},
            )
        return "unreadable" in bad_state.error()

    assert wait_until(spoil_state, timeout=60, every=0.05), bad_state.status()
    for s in scenes.values():
        s.fill()
    good.reach(HIGH)
    bad_state.reach(HIGH)  # started afresh, and scales on
    assert "rules" in bad_rules.error(), bad_rules.status()
    assert bad_creds.error().strip(), bad_creds.status()
    good.purge()
    good.reach(LOW)
    assert bad_rules.quantity() == LOW and bad_creds.quantity() == LOW
    for s in scenes.values():
        check_ledger(sandbox, sessions, s.tenant)

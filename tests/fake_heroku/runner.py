"""Run an app's formation for real: a process per dyno, started and stopped as the
fake Heroku's formation changes.

    runner = FormationRunner(state, "acme-app", {"jobs": consumer_spec(url, "jobs", ...)})
    runner.start()   # reconciles now and after every PATCH (and every `poll` seconds)
    ...
    runner.stop()    # every dyno gets SIGTERM, then SIGKILL after the grace

Like Heroku: dynos are numbered per process type (`jobs.1`, `jobs.2`, …) and see
their name in $DYNO; scaling down stops the highest-numbered (newest) first,
SIGTERM then SIGKILL after `grace` seconds (Heroku's 30, shorter in tests); a
dyno that exits by itself is started again. Boot time is the program's own
business (the consumer's --boot-delay). Used by the end-to-end tests,
bench/burst.py and the dev sandbox; nothing in it depends on pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from tests.fake_heroku.state import FakeState

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProcessSpec:
    """What one dyno of a process type runs (cwd: the repository)."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


def consumer_spec(
    url: str,
    queue: str,
    *,
    concurrency: int = 1,
    processing: float = 0.1,
    boot_delay: float = 0.0,
    stats_dir: Path | None = None,
) -> ProcessSpec:
    """A dyno running tests/workload/consumer.py on `queue`."""
    argv = [
        sys.executable,
        "-m",
        "tests.workload.consumer",
        "--url",
        url,
        "--queue",
        queue,
        "--concurrency",
        str(concurrency),
        "--processing",
        str(processing),
        "--boot-delay",
        str(boot_delay),
    ]
    if stats_dir is not None:
        argv += ["--stats-dir", str(stats_dir)]
    return ProcessSpec(argv)


@dataclass(frozen=True)
class DynoEvent:
    at: float  # time.time()
    dyno: str
    what: Literal["start", "sigterm", "sigkill", "exit"]
    returncode: int | None = None


@dataclass
class Dyno:
    kind: str
    number: int
    process: subprocess.Popen[bytes]
    log: IO[bytes] | None
    term_at: float | None = None  # monotonic time SIGTERM was sent

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.number}"


class FormationRunner:
    def __init__(
        self,
        state: FakeState,
        app: str,
        specs: Mapping[str, ProcessSpec],
        *,
        grace: float = 30.0,
        poll: float = 0.5,
        log_dir: Path | None = None,
    ) -> None:
        self.state, self.app, self.specs = state, app, dict(specs)
        self.grace, self.poll, self.log_dir = grace, poll, log_dir
        self.events: list[DynoEvent] = []
        self._dynos: list[Dyno] = []
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="formation-runner", daemon=True)

    # -- what a caller asks ------------------------------------------------------

    def running(self, kind: str) -> int:
        """Dynos of `kind` up and not told to stop."""
        with self._lock:
            return sum(
                1
                for d in self._dynos
                if d.kind == kind and d.term_at is None and d.process.poll() is None
            )

    def alive(self, kind: str) -> int:
        """Processes of `kind` still alive, stopping ones included."""
        with self._lock:
            return sum(1 for d in self._dynos if d.kind == kind and d.process.poll() is None)

    def wait_for(self, kind: str, count: int, *, timeout: float) -> bool:
        """True once exactly `count` dynos of `kind` run, the stopped ones reaped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                held = sum(1 for d in self._dynos if d.kind == kind)
            if held == count and self.running(kind) == count:
                return True
            time.sleep(0.1)
        return False

    def desired(self, kind: str) -> int:
        with self.state.lock:
            app = self.state.find_app(self.app)
            process = app.formation.get(kind) if app is not None else None
            return process.quantity if process is not None else 0

    # -- start / stop ------------------------------------------------------------

    def start(self) -> None:
        with self.state.lock:
            self.state.formation_listeners.append(self._wake.set)
        self._thread.start()

    def stop(self) -> None:
        with self.state.lock:
            if self._wake.set in self.state.formation_listeners:
                self.state.formation_listeners.remove(self._wake.set)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._lock:
            for dyno in self._dynos:
                self._terminate(dyno)
            deadline = time.monotonic() + self.grace
            for dyno in self._dynos:
                try:
                    dyno.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._kill(dyno)
                    dyno.process.wait()
                self._reaped(dyno)
            self._dynos.clear()

    def __enter__(self) -> FormationRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():
                return
            for kind in self.specs:
                self.reconcile(kind)

    def reconcile(self, kind: str) -> None:
        want = self.desired(kind)
        with self._lock:
            for dyno in [d for d in self._dynos if d.kind == kind]:
                if dyno.process.poll() is not None:
                    self._reaped(dyno)
                    self._dynos.remove(dyno)
                elif dyno.term_at is not None and time.monotonic() - dyno.term_at > self.grace:
                    self._kill(dyno)
            up = sorted(
                (d for d in self._dynos if d.kind == kind and d.term_at is None),
                key=lambda d: d.number,
            )
            for dyno in reversed(up[want:]):  # newest (highest-numbered) first
                self._terminate(dyno)
            taken = {d.number for d in self._dynos if d.kind == kind}
            free = (n for n in range(1, 10_000) if n not in taken)
            for _ in range(want - len(up)):
                self._spawn(kind, next(free))

    def _spawn(self, kind: str, number: int) -> None:
        spec = self.specs[kind]
        name = f"{kind}.{number}"
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = (self.log_dir / f"{name}.log").open("ab")
        env = {**os.environ, **spec.env, "DYNO": name, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            list(spec.argv),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is not Heroku's SIGTERM
        )
        self._dynos.append(Dyno(kind, number, process, log))
        self.events.append(DynoEvent(time.time(), name, "start"))

    def _terminate(self, dyno: Dyno) -> None:
        if dyno.term_at is None and dyno.process.poll() is None:
            dyno.process.send_signal(signal.SIGTERM)
            dyno.term_at = time.monotonic()
            self.events.append(DynoEvent(time.time(), dyno.name, "sigterm"))

    def _kill(self, dyno: Dyno) -> None:
        if dyno.process.poll() is None:
            dyno.process.kill()
            self.events.append(DynoEvent(time.time(), dyno.name, "sigkill"))

    def _reaped(self, dyno: Dyno) -> None:
        self.events.append(DynoEvent(time.time(), dyno.name, "exit", dyno.process.returncode))
        if dyno.log is not None:
            dyno.log.close()
            dyno.log = None

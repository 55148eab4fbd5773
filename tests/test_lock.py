"""The dependency locks cover pyproject.toml, pin every package exactly and carry hashes.

A dependency added to pyproject.toml without `scripts/lock` fails here, by name,
rather than as an import error on Heroku.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==[^\s\\;]+")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_names(specs: list[str]) -> set[str]:
    return {canonical(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in specs}


def lock_entries(name: str) -> dict[str, str]:
    """Package name -> its whole entry (pin line plus hash lines)."""
    entries: dict[str, str] = {}
    current: str | None = None
    for line in (ROOT / name).read_text().splitlines():
        found = PIN.match(line)
        if found:
            current = canonical(found.group(1))
            entries[current] = line
        elif current is not None and line.startswith("    --hash="):
            entries[current] += "\n" + line
        elif not line.startswith(" "):
            current = None
    return entries


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "specs"),
    [
        ("requirements.lock", PROJECT["dependencies"]),
        (
            "requirements-dev.lock",
            PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"],
        ),
    ],
)
def test_lock_covers_pyproject(lock: str, specs: list[str]) -> None:
    missing = required_names(specs) - set(lock_entries(lock))
    assert not missing, f"{lock} lacks {sorted(missing)}: run scripts/lock"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_pin_is_exact_and_hashed(lock: str) -> None:
    entries = lock_entries(lock)
    assert len(entries) >= 10
    unhashed = sorted(name for name, entry in entries.items() if "--hash=sha256:" not in entry)
    assert not unhashed, f"{lock}: no hash for {unhashed}"


def test_runtime_and_dev_locks_agree() -> None:
    runtime = lock_entries("requirements.lock")
    dev = lock_entries("requirements-dev.lock")
    differ = sorted(
        name for name in runtime if dev.get(name, "").split()[0:1] != runtime[name].split()[0:1]
    )
    assert not differ, f"pinned differently in the two locks: {differ}"


def test_heroku_installs_the_runtime_lock() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-r requirements.lock"]

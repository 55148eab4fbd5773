"""Reading a rules file for the command lines (validate, config set, simulate)."""

from __future__ import annotations

import sys

from guvscale.rules.source import MAX_BYTES

# A little past the cap, so load() can say "too long" with the size without
# ever pulling a huge file into memory.
READ_LIMIT = MAX_BYTES * 4 + 1


class UnreadableFile(Exception):
    """The file cannot be read; the message names it and says why."""


def read_rules_file(path: str) -> str:
    """The text of `path`, or of standard input for `-`."""
    if path == "-":
        return sys.stdin.read(READ_LIMIT)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(READ_LIMIT)
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a folder, not a rules file") from None
    except UnicodeDecodeError:
        raise UnreadableFile(f"{path}: is not UTF-8 text") from None
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot be read ({exc.strerror})") from None

"""`guvscale` command line: one sub-command per entry point.

Each sub-command lives with the code it drives; this module only dispatches,
importing lazily so `guvscale validate` never loads the web stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# name -> (module, function, help). The function takes the parsed namespace
# and returns an exit code; `add_arguments(parser)` in the same module, when
# present, declares the sub-command's own arguments.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("guvscale.web.server", "serve", "run the web service (uvicorn)"),
    "dev": ("guvscale.sandbox", "dev", "web + worker on the embedded database, with a sandbox app"),
    "worker": ("guvscale.worker.run", "worker", "run the scaling worker (--once, --dry-run)"),
    "validate": ("guvscale.rules.cli", "validate", "check a rules file"),
    "simulate": ("guvscale.simulate.cli", "simulate", "run rules against a workload trace"),
    "config": ("guvscale.client.cli", "config", "get or set an add-on's rules, or its status"),
    "rekey": (
        "guvscale.db.rekey",
        "rekey_command",
        "re-encrypt stored secrets under the newest key",
    ),
}


def _build(chosen: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guvscale")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, _func, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name != chosen:
            continue  # only the chosen command's module is imported
        add: Callable[[argparse.ArgumentParser], None] | None = getattr(
            importlib.import_module(module), f"add_{name}_arguments", None
        )
        if add is not None:
            add(p)
    return parser


# Flags whose value may start with "-": an add-on's token is url-safe base64,
# one in 64 of which does, and argparse takes such a value for an option
# ("--token: expected one argument").
DASHED_VALUES = ("--token",)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    joined: list[str] = []
    rest = iter(argv)
    for arg in rest:
        value = next(rest, None) if arg in DASHED_VALUES else None
        joined.append(arg if value is None else f"{arg}={value}")
    chosen = next((a for a in joined if not a.startswith("-")), None)
    return _build(chosen).parse_args(joined)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    module, func, _ = COMMANDS[args.command]
    run: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), func)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

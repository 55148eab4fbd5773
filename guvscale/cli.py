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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = _build(chosen).parse_args(argv)
    module, func, _ = COMMANDS[args.command]
    run: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), func)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""`guvscale validate rules.yaml`: the roles a rules file defines, or its problems.

Exit 0: one line per role, after one line per warning (if any). Exit 1: one line
per problem. Problems and warnings print as `file:line: role.key: message`, the
form editors and CI logs turn into links. Exit 2: the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from guvscale.rules.errors import RuleIssue, RulesError
from guvscale.rules.parser import load_with_warnings
from guvscale.rules.source import MAX_BYTES
from guvscale.rules.summary import describe


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the rules file (YAML), or - for standard input")


def format_issue(file: str, issue: RuleIssue) -> str:
    place = f"{file}:{issue.line}" if issue.line is not None else file
    where = issue.where()
    return f"{place}: {where}: {issue.message}" if where else f"{place}: {issue.message}"


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read(MAX_BYTES * 4 + 1)
    # Read a little past the cap so load() can say "too long" with the size,
    # without ever pulling a huge file into memory.
    with open(file, encoding="utf-8") as f:
        return f.read(MAX_BYTES * 4 + 1)


def validate(args: argparse.Namespace) -> int:
    file: str = args.file
    try:
        text = _read(file)
    except FileNotFoundError:
        print(f"{file}: no such file", file=sys.stderr)
        return 2
    except IsADirectoryError:
        print(f"{file}: is a folder, not a rules file", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"{file}: is not UTF-8 text", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{file}: cannot be read ({exc.strerror})", file=sys.stderr)
        return 2
    try:
        roles, warnings = load_with_warnings(text)
    except RulesError as exc:
        for issue in exc.errors:
            print(format_issue(file, issue))
        count = len(exc.errors)
        print(f"{count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    for issue in warnings:
        print(format_issue(file, issue))
    if warnings:
        count = len(warnings)
        print(f"{count} warning{'s' if count != 1 else ''}", file=sys.stderr)
    for role in roles.values():
        print(describe(role))
    return 0

"""`guvscale validate rules.yaml`: the roles a rules file defines, or its problems.

Exit 0: one line per role, after one line per warning (if any). Exit 1: one line
per problem. Problems and warnings print as `file:line: role.key: message`, the
form editors and CI logs turn into links. Exit 2: the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from guvscale.rules.errors import RuleIssue, RulesError
from guvscale.rules.files import UnreadableFile, read_rules_file
from guvscale.rules.parser import load_with_warnings
from guvscale.rules.summary import describe


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the rules file (YAML), or - for standard input")


def format_issue(file: str, issue: RuleIssue) -> str:
    place = f"{file}:{issue.line}" if issue.line is not None else file
    where = issue.where()
    return f"{place}: {where}: {issue.message}" if where else f"{place}: {issue.message}"


def validate(args: argparse.Namespace) -> int:
    file: str = args.file
    try:
        text = read_rules_file(file)
    except UnreadableFile as exc:
        print(exc, file=sys.stderr)
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

"""`guvscale config get|set|status`: the rules and status of one add-on, from a terminal.

Where to talk to comes from --url/--id/--token, else GUVSCALE_URL, GUVSCALE_ID
and GUVSCALE_TOKEN, which `heroku config -s -a APP | grep GUVSCALE` prints.

Exit status: 0 done; 1 the service refused (rules problems are printed one per
line as `file:line: role.key: message`); 2 a bad command line, missing
settings or an unreadable file; 3 the service cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx

from guvscale.client.api import ApiError, ConfigApi, ServiceUnreachable
from guvscale.rules.errors import RuleIssue
from guvscale.rules.files import UnreadableFile, read_rules_file

TIMEOUT = 15.0
ENV = {"url": "GUVSCALE_URL", "id": "GUVSCALE_ID", "token": "GUVSCALE_TOKEN"}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    # The connection flags go after the action, as in `guvscale config get --id X`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the service (default: $GUVSCALE_URL)")
    common.add_argument("--id", help="the add-on's id (default: $GUVSCALE_ID)")
    common.add_argument("--token", help="the add-on's token (default: $GUVSCALE_TOKEN)")
    common.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds (default 15)")
    sub = parser.add_subparsers(dest="action", required=True)
    get = sub.add_parser("get", parents=[common], help="print the saved rules, or write a file")
    get.add_argument("-f", "--file", help="write the rules here instead of printing them")
    put = sub.add_parser("set", parents=[common], help="check and save rules from a file")
    put.add_argument("-f", "--file", required=True, help="the rules file (YAML), - for stdin")
    sub.add_parser("status", parents=[common], help="what the worker last saw, per role")


class _Usage(Exception):
    pass


def _settings(args: argparse.Namespace) -> tuple[str, str, str]:
    values = {k: getattr(args, k) or os.environ.get(env, "") for k, env in ENV.items()}
    missing = [f"--{k} or {ENV[k]}" for k, v in values.items() if not v]
    if missing:
        raise _Usage("missing " + ", ".join(missing) + " (see `heroku config -s | grep GUVSCALE`)")
    if not values["url"].startswith(("http://", "https://")):
        raise _Usage(f"GUVSCALE_URL must start with https:// (got {values['url']!r})")
    try:
        httpx.URL(values["url"])
    except httpx.InvalidURL as exc:
        raise _Usage(f"GUVSCALE_URL is not a URL ({exc}): {values['url']!r}") from None
    if not values["token"].isascii() or not values["token"].isprintable():
        # An add-on token is url-safe base64; a pasted one may carry a newline.
        raise _Usage("GUVSCALE_TOKEN holds characters no add-on token has (a newline?)")
    return values["url"], values["id"], values["token"]


def _read(path: str) -> str:
    try:
        return read_rules_file(path)
    except UnreadableFile as exc:
        raise _Usage(str(exc)) from None


def issue_line(file: str, error: dict[str, Any]) -> str:
    """One problem as `file:line: role.key: message` (what `guvscale validate` prints)."""
    line = error.get("line")
    issue = RuleIssue(
        error.get("role"),
        error.get("key"),
        line if isinstance(line, int) else None,
        str(error.get("message", "")),
    )
    place = f"{file}:{issue.line}" if issue.line is not None else file
    where = issue.where()
    return f"{place}: {where}: {issue.message}" if where else f"{place}: {issue.message}"


def _status_lines(status: dict[str, Any]) -> list[str]:
    mode = ", dry-run: deciding, not scaling" if status.get("dryRun") else ""
    lines = [
        f"app: {status.get('app') or 'not known yet'} (plan {status.get('plan', '?')}, "
        f"polled every {status.get('pollInterval', '?')} s{mode})",
        f"last tick: {status.get('lastTick') or 'not yet'}",
    ]
    if status.get("error"):
        lines.append(f"error: {status['error']}")
    roles = [r for r in status.get("roles") or [] if isinstance(r, dict)]
    columns = ["role", "queue", "ready", "unacked", "consumers", "publishRate"]
    columns += ["current", "desired"]
    rows = [[_cell(r.get(c)) for c in columns] for r in roles]
    if not rows:
        lines.append("no roles yet: save rules with `guvscale config set -f rules.yaml`")
        return lines
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r, row in zip(roles, rows, strict=True):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if r.get("error"):
            lines.append(f"  error: {r['error']}")
        elif r.get("reason"):
            lines.append(f"  why: {r['reason']}")
    return lines


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def config(args: argparse.Namespace) -> int:
    try:
        url, resource_id, token = _settings(args)
        text = _read(args.file) if args.action == "set" else ""
    except _Usage as exc:
        print(f"guvscale config: {exc}", file=sys.stderr)
        return 2
    with httpx.Client(follow_redirects=False) as http:
        api = ConfigApi(http, url, resource_id, token, timeout=args.timeout)
        try:
            return _run(api, args, text)
        except ServiceUnreachable as exc:
            print(f"guvscale config: {exc}", file=sys.stderr)
            return 3
        except _Usage as exc:
            print(f"guvscale config: {exc}", file=sys.stderr)
            return 2
        except ApiError as exc:
            if exc.errors:
                for error in exc.errors:
                    print(issue_line(args.file or "rules", error))
            print(f"guvscale config: {exc}", file=sys.stderr)
            return 1


def _run(api: ConfigApi, args: argparse.Namespace, text: str) -> int:
    if args.action == "get":
        rules = api.get_rules()
        if args.file:
            try:
                with open(args.file, "w", encoding="utf-8") as f:
                    f.write(rules)
            except OSError as exc:
                raise _Usage(f"cannot write {args.file}: {exc.strerror or exc}") from None
            print(f"wrote {len(rules.splitlines())} lines to {args.file}", file=sys.stderr)
        else:
            sys.stdout.write(rules if rules.endswith("\n") or not rules else rules + "\n")
        return 0
    if args.action == "set":
        version, warnings = api.set_rules(text)
        for warning in warnings:
            print(issue_line(args.file, warning))
        print(f"saved {args.file} as version {version}")
        return 0
    for line in _status_lines(api.status()):
        print(line)
    return 0

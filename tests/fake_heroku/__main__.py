"""Run the fake Heroku by hand and point HEROKU_API_URL / HEROKU_ID_URL at it.

    python -m tests.fake_heroku --port 5001 --token my-dev-token \
        --app acme-app --formation worker=1 --formation web=1:Eco

The fake accepts the client secret `test-oauth-secret` (or --client-secret).
Tokens are only those you pass: nothing secret is printed.
"""

from __future__ import annotations

import argparse
import time

from tests.fake_heroku.server import FakeHerokuServer
from tests.fake_heroku.state import FakeState


def parse_formation(specs: list[str]) -> dict[str, int | tuple[int, str]]:
    formation: dict[str, int | tuple[int, str]] = {}
    for spec in specs:
        kind, _, rest = spec.partition("=")
        quantity, _, size = rest.partition(":")
        formation[kind] = (int(quantity), size) if size else int(quantity)
    return formation


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_heroku", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--token", action="append", default=[], help="a user token to accept")
    parser.add_argument("--app", default="acme-app", help="app to create (with --formation)")
    parser.add_argument(
        "--formation", action="append", default=[], help="TYPE=QTY[:SIZE], e.g. worker=2"
    )
    parser.add_argument("--client-secret", default=None)
    args = parser.parse_args(argv)

    state = FakeState()
    if args.client_secret:
        state.client_secret = args.client_secret
    owner = state.add_account().user_id
    for token in args.token:
        state.add_user_token(token, user_id=owner)
    state.add_app(args.app, parse_formation(args.formation or ["web=1", "worker=0"]))

    with FakeHerokuServer(state, host=args.host, port=args.port) as server:
        print(f"fake Heroku on {server.url} (app {args.app}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

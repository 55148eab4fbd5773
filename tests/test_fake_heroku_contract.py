"""Hold the fake Heroku's checks to Heroku's own JSON hyper-schema.

The fake is written from ../shared/heroku-addon-api.md; this test reads
../shared/reference/heroku-platform-api-schema.json (read in place, never
copied) and checks, for every link the fake serves:
- its route has the link's method and href;
- every request our adapters send validates against the link's `schema`;
- a body the schema calls invalid, the fake refuses with 422 invalid_params
  (so whatever the fake accepts, the schema accepts);
- every answer the fake sends validates against the link's `targetSchema`.
Where the fake refuses more than the schema does, the table below says why.

Only this module skips, and only when ../shared is not beside the repo.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from guvscale.heroku import HerokuIdentity, HerokuPlatform
from tests.fake_heroku.app import ROUTES, Route
from tests.fake_heroku.fixtures import FakeHeroku
from tests.fake_heroku.state import CLIENT_SECRET, ReceivedRequest

SCHEMA_PATH = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "reference"
    / "heroku-platform-api-schema.json"
)
if not SCHEMA_PATH.is_file():
    pytest.skip(
        f"Heroku's schema is not at {SCHEMA_PATH}: the contract test needs the shared/ "
        "folder cloned beside the repo (as CI does); the fake's own tests still run.",
        allow_module_level=True,
    )

SCHEMA = json.loads(SCHEMA_PATH.read_text())
BASE = "http://api.heroku.com/schema"
REGISTRY = Registry().with_resource(
    BASE, Resource.from_contents(SCHEMA, default_specification=DRAFT4)
)
V3 = "application/vnd.heroku+json; version=3"

# The links the add-on depends on; the fake must serve each of them.
REQUIRED_LINKS = {
    ("formation", "List"),
    ("formation", "Batch Update"),
    ("formation", "Update"),
    ("add-on-config", "Update"),
    ("add-on-action", "Provision"),
    ("account", "Info"),
    ("add-on", "Info"),
    ("config-var", "Info for App"),
}

FORMATS = FormatChecker()


# jsonschema checks date-time and uri only with optional packages; check them here instead.
@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value)
    return True


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


def link_of(definition: str, title: str) -> tuple[int, dict[str, Any]]:
    links = SCHEMA["definitions"][definition]["links"]
    for index, link in enumerate(links):
        if link["title"] == title:
            return index, link
    raise AssertionError(f"the schema has no {definition} link titled {title!r}")


@functools.cache
def validator(definition: str, title: str, part: str) -> Draft4Validator:
    index, link = link_of(definition, title)
    assert part in link, f"{definition} {title} has no {part}"
    pointer = f"{BASE}#/definitions/{definition}/links/{index}/{part}"
    return Draft4Validator({"$ref": pointer}, registry=REGISTRY, format_checker=FORMATS)


def schema_errors(definition: str, title: str, body: object) -> list[str]:
    return [e.message for e in validator(definition, title, "schema").iter_errors(body)]


def route_for(link: tuple[str, str]) -> Route:
    return next(r for r in ROUTES if r.link == link)


def route_of(request: ReceivedRequest) -> Route | None:
    return next(
        (r for r in ROUTES if r.method == request.method and r.pattern.match(request.path)), None
    )


def assert_answers_match(fake: FakeHeroku, *, last: int | None = None) -> int:
    """Each answer logged (or the `last` few) fits its link; returns how many were 2xx."""
    successes = 0
    for request in fake.state.requests[-last if last else 0 :]:
        route = route_of(request)
        if route is None or route.link is None or request.status is None:
            continue
        if 200 <= request.status < 300:
            successes += 1
            check = validator(*route.link, "targetSchema")
            problems = [e.message for e in check.iter_errors(request.response)]
            assert not problems, f"{request.method} {request.path} answered {problems}"
        else:
            # The schema defines no error body; the contract doc does: {id, message, url?}.
            body = request.response
            assert isinstance(body, dict), body
            assert isinstance(body.get("id"), str) and isinstance(body.get("message"), str), body
    return successes


@pytest.fixture
def world(fake_heroku: FakeHeroku) -> Iterator[dict[str, str]]:
    """An owner with acme-app (web=1, worker=2, urgent=0 Eco), an add-on and its partner token."""
    state = fake_heroku.state
    owner = state.add_user_token()
    app = state.add_app("acme-app", {"web": 1, "worker": 2, "urgent": (0, "Eco")})
    app.config_vars["CLOUDAMQP_URL"] = "amqps://u:p@rabbit.example/vh"
    addon, grant = state.start_provisioning("acme-app")
    with httpx.Client() as http:
        partner = HerokuIdentity(http, fake_heroku.id_url, CLIENT_SECRET).exchange_grant(grant.code)
    state.requests.clear()
    yield {"owner": owner, "partner": partner.access_token, "addon": addon.id}


NO_BODY = object()


def send(
    fake: FakeHeroku, route: Route, token: str, body: object = NO_BODY, **params: str
) -> httpx.Response:
    headers = {"Accept": V3, "Authorization": f"Bearer {token}"}
    content = None
    if body is not NO_BODY:
        # Serialised here so that a JSON null is sent as `null`, not as no body.
        headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode()
    path = route.template.format(**params)
    return httpx.request(
        route.method, fake.url + path, headers=headers, content=content, timeout=5.0
    )


FORMATION = {"app": "acme-app", "type": "worker"}


def params_for(link: tuple[str, str], world: dict[str, str]) -> tuple[str, dict[str, str]]:
    if link[0] == "formation":
        return world["owner"], FORMATION
    return world["partner"], {"addon": world["addon"]}


# -- routes ---------------------------------------------------------------------


def normalise_href(href: str) -> str:
    return re.sub(r"\{\([^)]*\)\}", "{}", href)


def test_the_fake_serves_every_link_the_add_on_needs():
    served = {r.link for r in ROUTES if r.link is not None}
    assert served >= REQUIRED_LINKS


@pytest.mark.parametrize("route", [r for r in ROUTES if r.link], ids=lambda r: " ".join(r.link))
def test_each_route_has_its_links_method_and_href(route):
    _, link = link_of(*route.link)
    assert route.method == link["method"]
    assert re.sub(r"\{\w+\}", "{}", route.template) == normalise_href(link["href"])


# -- what our adapters send, and what the fake answers --------------------------


def test_requests_our_adapters_send_fit_the_link_schemas(fake_heroku, world):
    with httpx.Client() as http:
        platform = HerokuPlatform(http, fake_heroku.api_url, "guvscale-contract")
        platform.list_formation(world["owner"], "acme-app")
        platform.get_formation(world["owner"], "acme-app", "worker")
        platform.scale(world["owner"], "acme-app", {"worker": 4, "web": 0})
        platform.scale_one(world["owner"], "acme-app", "urgent", 1)
        platform.rate_limit_remaining(world["owner"])
        platform.get_account(world["owner"])
        platform.get_addon(world["owner"], world["addon"])
        platform.get_config_vars(world["owner"], "acme-app")
        platform.set_addon_config(
            world["partner"],
            world["addon"],
            {"GUVSCALE_ID": "g-1", "GUVSCALE_TOKEN": "t", "GUVSCALE_URL": "https://g.example"},
        )
        platform.mark_provisioned(world["partner"], world["addon"])
    exercised = set()
    for request in fake_heroku.state.requests:
        route = route_of(request)
        assert route is not None and route.link is not None, request.path
        exercised.add(route.link)
        assert request.status == 200, (request.path, request.response)
        _, link = link_of(*route.link)
        if "schema" in link:
            assert not schema_errors(*route.link, request.json), request.path
        else:
            assert request.body == b"", f"{request.path} takes no body"
    assert exercised >= REQUIRED_LINKS
    assert assert_answers_match(fake_heroku) == len(fake_heroku.state.requests)


def test_config_listing_and_error_answers_fit_too(fake_heroku, world):
    list_config = route_for(("add-on-config", "List"))
    assert send(fake_heroku, list_config, world["partner"], addon=world["addon"]).status_code == 200
    info = route_for(("formation", "Info"))
    assert send(fake_heroku, info, world["owner"], app="acme-app", type="nope").status_code == 404
    assert send(fake_heroku, info, "bad-token", app="acme-app", type="worker").status_code == 401
    assert assert_answers_match(fake_heroku) == 1


# -- bodies: the schema's verdict against the fake's ----------------------------

BATCH = ("formation", "Batch Update")
UPDATE = ("formation", "Update")
CONFIG = ("add-on-config", "Update")

SCHEMA_INVALID = [
    (BATCH, {}),  # no updates
    (BATCH, {"updates": {"type": "worker", "quantity": 1}}),
    (BATCH, {"updates": [{"quantity": 1}]}),  # no type
    (BATCH, {"updates": [{"type": "worker", "quantity": "3"}]}),
    (BATCH, {"updates": [{"type": "worker", "quantity": 1.5}]}),
    (BATCH, {"updates": [{"type": "worker", "quantity": None}]}),
    (BATCH, {"updates": [{"type": "worker", "quantity": True}]}),
    (BATCH, {"updates": [{"type": "worker", "quantity": 1, "size": "Eco"}]}),  # unknown field
    (BATCH, {"updates": [{"type": "bad type!", "quantity": 1}]}),
    (BATCH, {"updates": [{"type": "worker", "dyno_size": "Eco"}]}),
    (BATCH, {"updates": [{"type": "worker", "dyno_size": {"id": "not-a-uuid"}}]}),
    (BATCH, {"updates": ["worker"]}),
    (BATCH, [{"type": "worker", "quantity": 1}]),
    (BATCH, "worker=1"),
    (UPDATE, {"quantity": "3"}),
    (UPDATE, {"quantity": None}),
    (UPDATE, {"quantity": 2.5}),
    (UPDATE, {"dyno_size": "Eco"}),
    (UPDATE, {"dyno_size": {"name": 1}}),
    (UPDATE, [{"quantity": 1}]),
    (UPDATE, 3),
    (CONFIG, {"config": {"GUVSCALE_ID": "g"}}),
    (CONFIG, {"config": ["GUVSCALE_ID"]}),
    (CONFIG, {"config": [{"name": 1, "value": "g"}]}),
    (CONFIG, {"config": [{"name": "GUVSCALE_ID", "value": 5}]}),
    (CONFIG, {"config": "GUVSCALE_ID=g"}),
    (CONFIG, [{"name": "GUVSCALE_ID", "value": "g"}]),
]


@pytest.mark.parametrize(("link", "body"), SCHEMA_INVALID)
def test_what_the_schema_calls_invalid_the_fake_refuses(fake_heroku, world, link, body):
    assert schema_errors(*link, body), f"the schema accepts {body!r}: move it to another table"
    token, params = params_for(link, world)
    response = send(fake_heroku, route_for(link), token, body, **params)
    assert (response.status_code, response.json()["id"]) == (422, "invalid_params")
    assert_answers_match(fake_heroku)


# Refused by the fake though the schema allows them, each for a reason the
# schema does not express. If the schema ever forbids one, it moves up.
BEYOND_SCHEMA = [
    # The schema's quantity has no minimum; a negative dyno count means nothing.
    (BATCH, {"updates": [{"type": "worker", "quantity": -1}]}, "invalid_params"),
    (UPDATE, {"quantity": -2}, "invalid_params"),
    # An empty dyno_size names no size.
    (UPDATE, {"dyno_size": {}}, "invalid_params"),
    # The manifest lists the only config vars an add-on may set.
    (CONFIG, {"config": [{"name": "DATABASE_URL", "value": "x"}]}, "invalid_params"),
    # add-on-config has no `required`, but a var needs a name and a value (null unsets).
    (CONFIG, {"config": [{"value": "g"}]}, "invalid_params"),
    (CONFIG, {"config": [{"name": "GUVSCALE_ID"}]}, "invalid_params"),
    # Eco dynos run one per process type (dyno size limits are not in the schema).
    (UPDATE, {"quantity": 2}, "cannot_run_above_limit"),
]


@pytest.mark.parametrize(("link", "body", "error_id"), BEYOND_SCHEMA)
def test_what_the_fake_refuses_beyond_the_schema(fake_heroku, world, link, body, error_id):
    assert not schema_errors(*link, body)
    token, params = params_for(link, world)
    if error_id == "cannot_run_above_limit":
        params = {"app": "acme-app", "type": "urgent"}
    response = send(fake_heroku, route_for(link), token, body, **params)
    assert (response.status_code, response.json()["id"]) == (422, error_id)


SCHEMA_VALID = [
    (BATCH, {"updates": [{"type": "worker", "quantity": 3}]}),
    (BATCH, {"updates": [{"type": "worker", "quantity": 0}, {"type": "web", "quantity": 2}]}),
    (BATCH, {"updates": [{"type": "worker"}]}),  # nothing to change
    (BATCH, {"updates": [{"type": "worker", "dyno_size": {"name": "Standard-2X"}}]}),
    (BATCH, {"updates": []}),
    (
        BATCH,
        {"updates": [{"type": "worker", "quantity": 1}], "note": "extra top-level fields pass"},
    ),
    (UPDATE, {"quantity": 5}),
    (UPDATE, {}),
    (UPDATE, {"quantity": 1, "dyno_size": {"name": "performance-m"}}),
    (CONFIG, {"config": [{"name": "GUVSCALE_ID", "value": "g-1"}]}),
    (CONFIG, {"config": [{"name": "GUVSCALE_URL", "value": None}]}),
    (CONFIG, {"config": []}),
    (CONFIG, {}),
]


@pytest.mark.parametrize(("link", "body"), SCHEMA_VALID)
def test_good_bodies_pass_both_and_answers_fit(fake_heroku, world, link, body):
    assert not schema_errors(*link, body)
    token, params = params_for(link, world)
    response = send(fake_heroku, route_for(link), token, body, **params)
    assert response.status_code == 200, response.json()
    assert assert_answers_match(fake_heroku) == 1


def test_provision_takes_no_body_and_answers_an_add_on(fake_heroku, world):
    _, link = link_of("add-on-action", "Provision")
    assert "schema" not in link
    route = route_for(("add-on-action", "Provision"))
    response = send(fake_heroku, route, world["partner"], addon=world["addon"])
    assert response.json()["state"] == "provisioned"
    assert assert_answers_match(fake_heroku) == 1


# -- every body one mistake away from a good one ------------------------------

SIZE_ID = "01234567-89ab-cdef-0123-456789abcdef"
BASES = [
    (
        BATCH,
        {
            "updates": [
                {
                    "type": "worker",
                    "quantity": 1,
                    "dyno_size": {"name": "Standard-2X", "id": SIZE_ID},
                },
                {"type": "web", "quantity": 0},
            ]
        },
    ),
    (UPDATE, {"quantity": 1, "dyno_size": {"name": "Standard-1X", "id": SIZE_ID}}),
    (
        CONFIG,
        {
            "config": [
                {"name": "GUVSCALE_ID", "value": "g"},
                {"name": "GUVSCALE_URL", "value": None},
            ]
        },
    ),
]
JUNK: list[Any] = [None, True, -1, 0, 1.5, "3", "", "not-a-uuid", [], [1], {}, {"name": 1}]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if new is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


_DELETE = object()


def mutants(body: Any) -> Iterator[Any]:
    """Each body made by one change: a value swapped for junk, a key dropped, a key added."""
    for path in paths(body):
        for junk in JUNK:
            yield replaced(body, path, junk)
        if path and isinstance(path[-1], str):
            yield replaced(body, path, _DELETE)
        target = body
        for step in path:
            target = target[step]
        if isinstance(target, dict):
            yield replaced(body, (*path, "size"), "Eco")


def test_bodies_one_mistake_away_the_schema_refuses_the_fake_refuses(fake_heroku, world):
    """Schema-invalid means 422 invalid_params; so whatever the fake accepts is schema-valid."""
    mismatches = []
    checked = invalid = 0
    with httpx.Client(timeout=5.0) as http:
        for link, base in BASES:
            token, params = params_for(link, world)
            url = fake_heroku.url + route_for(link).template.format(**params)
            headers = {"Accept": V3, "Authorization": f"Bearer {token}"}
            for body in mutants(base):
                response = http.request(
                    route_for(link).method, url, headers=headers, content=json.dumps(body)
                )
                checked += 1
                answer = (response.status_code, response.json())
                if schema_errors(*link, body):
                    invalid += 1
                    if answer[0] != 422 or answer[1].get("id") != "invalid_params":
                        mismatches.append((link, body, answer))
    assert not mismatches, "\n".join(
        f"{k} {b} -> {a[0]} {a[1] if a[0] >= 300 else ''}" for k, b, a in mismatches
    )
    # The walk covered real ground: hundreds of bodies, most of them invalid.
    assert checked > 200 and invalid > checked // 2
    assert_answers_match(fake_heroku)

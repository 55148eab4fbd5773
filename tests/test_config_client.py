"""`guvscale.client.api.ConfigApi`, the CLI's adapter, against mocked answers (respx)."""

from __future__ import annotations

import httpx
import pytest
import respx

from guvscale.client.api import ApiError, ConfigApi, ServiceUnreachable

URL = "https://guvscale.example"
CONFIG = f"{URL}/config/gvs-1"


def api(http: httpx.Client) -> ConfigApi:
    return ConfigApi(http, URL, "gvs-1", "tok", timeout=5)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_the_routers_own_error_page_is_unreachable_not_refused(status: int) -> None:
    # Heroku's router answers HTML while the service restarts: exit 3 (try
    # again), not 1 ("refused"), as the CLI's exit codes promise.
    with respx.mock, httpx.Client() as http:
        respx.get(CONFIG).respond(status, html="<html>Application error</html>")
        with pytest.raises(ServiceUnreachable, match=f"not answering \\({status}"):
            api(http).get_rules()


def test_our_own_json_errors_stay_refusals_with_their_problems() -> None:
    problems = [{"role": "a", "key": "deadline", "line": 3, "message": "must be a number"}]
    body = {"id": "invalid_rules", "message": "the rules have 1 problem", "errors": problems}
    with respx.mock, httpx.Client() as http:
        respx.post(CONFIG).respond(422, json=body)
        with pytest.raises(ApiError) as caught:
            api(http).set_rules("a: {d: soon}\n")
    assert (caught.value.status, caught.value.id, caught.value.errors) == (
        422,
        "invalid_rules",
        problems,
    )


def test_a_save_returns_its_version_and_warnings() -> None:
    warning = {"role": "a", "key": "target", "line": 2, "message": "cannot finish in time"}
    answer = {"configYaml": "a: {}\n", "version": 4, "warnings": [warning, "junk"]}
    with respx.mock, httpx.Client() as http:
        respx.post(CONFIG).respond(200, json=answer)
        assert api(http).set_rules("a: {}\n") == (4, [warning])

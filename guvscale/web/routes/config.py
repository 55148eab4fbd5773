"""The config API the heroku-guvscale CLI plugin speaks (camelCase, as it sends and reads).

Every call: `Authorization: Bearer <GUVSCALE_TOKEN>` for the `{id}` in the
path (GUVSCALE_ID), checked by `ConfigRoute` before anything about the body
(`web.guarded`'s order). Thin: authenticate, parse, call a service, answer.
`/config/{id}/status` and `/events` live with the worker's records; they
authenticate with the same `web.api_auth.TenantDep`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.alias_generators import to_camel

import guvscale
from guvscale.errors import Unprocessable
from guvscale.heroku.platform import HerokuPlatform
from guvscale.rules import RuleIssue
from guvscale.services import credentials, credentials_check, rules_config
from guvscale.settings import Settings
from guvscale.web.api_auth import CONFIG_BODY_ERRORS, CONFIG_ERRORS, ConfigRoute, TenantDep
from guvscale.web.deps import VaultDep
from guvscale.web.schemas import ErrorBody, answers


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- bodies and answers ------------------------------------------------------


class RuleIssueOut(BaseModel):
    role: str | None
    key: str | None
    line: int | None
    message: str

    @classmethod
    def of(cls, issue: RuleIssue) -> RuleIssueOut:
        return cls(role=issue.role, key=issue.key, line=issue.line, message=issue.message)


class InvalidRulesOut(ErrorBody):
    """The 422 for rules that do not load: every problem, each where it is."""

    id: Literal["invalid_rules"]
    errors: list[RuleIssueOut]


_EXAMPLE_RULES = "emailsender:\n  queue: send-email\n  deadline: 180\n  maximum: 5\n"


class ConfigIn(_Camel):
    config: str = Field(
        description="the rules YAML, kept exactly as written", examples=[_EXAMPLE_RULES]
    )
    base_version: int | None = Field(
        default=None,
        ge=0,
        description="the version this change started from (0: none saved yet); if another "
        "was saved since, 409 rules_changed and nothing is saved. Left out: saved over "
        "whatever is in force",
    )


class ConfigOut(_Camel):
    config_yaml: str = Field(description='the saved rules YAML, exactly as written; "" before any')
    version: int = Field(
        description="the version in force, 0 before any: send it back as baseVersion with "
        "a change, so a save made since is not silently undone"
    )


class SavedConfigOut(ConfigOut):
    warnings: list[RuleIssueOut] = Field(
        description="problems that do not stop the rules from scaling"
    )


# A Heroku token is visible ASCII (it travels in an Authorization header);
# blanks around a pasted one are trimmed by the service.
HerokuToken = Annotated[
    str, Field(min_length=1, max_length=2000, pattern=r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$")
]


class CredentialsIn(_Camel):
    # At least one field: the route refuses an empty change with a 422.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    heroku_token: HerokuToken | None = Field(
        None, description="an owner's token from `heroku authorizations:create`"
    )
    broker_url: Annotated[str, Field(max_length=2000)] | None = Field(
        None,
        description=(
            "amqp(s)://user:password@host/vhost; omitted: found in the app's config vars; "
            '"": forget a given one and find it there again'
        ),
    )
    management_url: Annotated[str, Field(max_length=2000)] | None = Field(
        None, description='http(s)://host of the management API; omitted or "": derived'
    )


class AppOut(BaseModel):
    id: str
    name: str | None


class CredentialsOut(_Camel):
    heroku_token: str | None = Field(description="masked: only the last 4 characters")
    app: AppOut | None
    broker_url: str | None = Field(description="password replaced")
    broker_source: str | None = Field(
        description='the config var it came from (e.g. "CLOUDAMQP_URL"), or "given"'
    )
    management_url: str | None = Field(description="password replaced")
    management_source: str | None = Field(description='"given" or "derived"')
    queues: list[str] | None = Field(
        None, description="queues seen in the broker's vhost when the credentials were checked"
    )

    @classmethod
    def of(cls, summary: credentials.CredentialsSummary) -> CredentialsOut:
        app = AppOut(id=summary.app_id, name=summary.app_name) if summary.app_id else None
        return cls(
            heroku_token=summary.heroku_token,
            app=app,
            broker_url=summary.broker_url,
            broker_source=summary.broker_source,
            management_url=summary.management_url,
            management_source=summary.management_source,
            queues=summary.queues,
        )


class DryRunIn(_Camel):
    dry_run: StrictBool


class DryRunOut(_Camel):
    dry_run: bool


async def credentials_checker(request: Request) -> credentials_check.CredentialsChecker:
    settings: Settings = request.app.state.settings
    platform = HerokuPlatform(
        request.app.state.http,
        settings.heroku_api_url,
        f"guvscale/{guvscale.__version__}",
        timeout=settings.http_timeout,
    )
    return credentials_check.CredentialsChecker(
        platform,
        request.app.state.async_http,
        allow_private=settings.private_brokers_allowed,
        timeout=settings.http_timeout,
    )


CheckerDep = Annotated[credentials_check.CredentialsChecker, Depends(credentials_checker)]

router = APIRouter(
    prefix="/config", tags=["config"], route_class=ConfigRoute, responses=CONFIG_ERRORS
)
# POST /config/{id}: rules that do not load, or a body that is not a config.
_RULES_422 = {
    "model": InvalidRulesOut | ErrorBody,
    "description": "invalid_rules (with every problem in `errors`), or a body that is "
    "not a config (invalid_params); nothing saved",
}


# -- routes ------------------------------------------------------------------------


@router.get("/{id}", summary="The saved rules")
async def get_config(tenant: TenantDep) -> ConfigOut:
    rules = await tenant(lambda db: rules_config.current_rules(db, tenant.resource_id))
    if rules is None:
        return ConfigOut(config_yaml="", version=0)
    return ConfigOut(config_yaml=rules.yaml_text, version=rules.version)


@router.post(
    "/{id}",
    summary="Save new rules",
    responses={
        **CONFIG_BODY_ERRORS,
        409: {
            "model": ErrorBody,
            "description": "rules_changed: another version was saved since baseVersion; "
            "nothing saved",
        },
        422: _RULES_422,
    },
)
async def post_config(body: ConfigIn, tenant: TenantDep) -> SavedConfigOut:
    now = dt.datetime.now(dt.UTC)
    saved = await tenant(
        lambda db: rules_config.save_rules(
            db, tenant.resource_id, body.config, author="api", now=now, based_on=body.base_version
        )
    )
    return SavedConfigOut(
        config_yaml=saved.yaml_text,
        version=saved.version,
        warnings=[RuleIssueOut.of(w) for w in saved.warnings],
    )


@router.get("/{id}/credentials", summary="The credentials in force, masked")
async def get_credentials(tenant: TenantDep, vault: VaultDep) -> CredentialsOut:
    summary = await credentials_check.current_credentials(tenant, vault, tenant.resource_id)
    return CredentialsOut.of(summary)


@router.put(
    "/{id}/credentials",
    summary="Set the Heroku token and/or the broker; checked before saving",
    responses={
        **CONFIG_BODY_ERRORS,
        **answers(
            404, why={404: "The add-on was deprovisioned while its credentials were checked."}
        ),
        422: {
            "model": ErrorBody,
            "description": "a body that is not credentials (invalid_params), or what failed "
            "checking them with Heroku or the broker and why (invalid_credentials); "
            "nothing saved",
        },
    },
)
async def put_credentials(
    body: CredentialsIn, tenant: TenantDep, vault: VaultDep, checker: CheckerDep
) -> CredentialsOut:
    if not body.model_fields_set & {"heroku_token", "broker_url", "management_url"}:
        raise Unprocessable("give at least one of herokuToken, brokerUrl, managementUrl")
    change = credentials_check.CredentialsChange(
        heroku_token=body.heroku_token,
        broker_url=body.broker_url,
        management_url=body.management_url,
    )
    summary = await credentials_check.update_credentials(
        tenant, vault, checker, tenant.resource_id, change
    )
    return CredentialsOut.of(summary)


@router.put(
    "/{id}/dry-run", summary="Decide and record, but never apply", responses=CONFIG_BODY_ERRORS
)
async def put_dry_run(body: DryRunIn, tenant: TenantDep) -> DryRunOut:
    flag = await tenant(lambda db: rules_config.set_dry_run(db, tenant.resource_id, body.dry_run))
    return DryRunOut(dry_run=flag)

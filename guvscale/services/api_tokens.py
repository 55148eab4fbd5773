"""Who may use the config API for a resource: the holder of its GUVSCALE_TOKEN.

The database keeps sha256(token) (see config_vars.py). A wrong token, a
missing one and another resource's token all get the same 401, so the answer
tells nobody whether an id exists.
"""

from __future__ import annotations

import hmac
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.models import Resource, ResourceState
from guvscale.errors import Unauthorized
from guvscale.services.config_vars import token_hash

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="guvscale"'}
# Hashing a dummy when the id is unknown keeps the timing of both answers alike.
_NO_HASH = "0" * 64
# Our ids are "gvs-" + hex; anything else is looked up nowhere (no NUL reaches SQL).
_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,40}")


class BadApiToken(Unauthorized):
    code = "unauthorized"


def authenticate(session: Session, resource_id: str, token: str | None) -> str:
    """The resource id when `token` is its GUVSCALE_TOKEN and it is provisioned."""
    stored = (
        session.execute(
            select(Resource.api_token_hash, Resource.state).where(Resource.id == resource_id)
        ).first()
        if _ID_SHAPE.fullmatch(resource_id)
        else None
    )
    expected = stored[0] if stored is not None and stored[0] else _NO_HASH
    given = token_hash(token) if token else ""
    matches = hmac.compare_digest(given.encode(), expected.encode())
    if stored is None or not token or not matches or stored[1] != ResourceState.provisioned:
        raise BadApiToken(
            "GUVSCALE_TOKEN missing or wrong for this GUVSCALE_ID "
            "(send Authorization: Bearer <GUVSCALE_TOKEN>)",
            headers=CHALLENGE,
        )
    return resource_id

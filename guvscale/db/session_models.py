"""Signed-in browser sessions, held server-side so signing out really ends one.

The cookie (signed, see web/auth.py) names a session by a random id; this
table keeps only sha256 of that id, so a copy of the table opens nothing.
A session is live while its row exists and has not expired: sign-out, a new
sign-in in the same browser and deprovisioning delete the row, and every
copy of the cookie stops working at once.

Not `TenantOwned`: a session is looked up by its id before anyone knows the
tenant, and it is what then tells us the tenant.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from guvscale.db.base import Base


class WebSession(Base):
    __tablename__ = "web_sessions"

    id_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

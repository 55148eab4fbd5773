"""Errors that know their HTTP status, so routes never translate by hand."""

from __future__ import annotations


class AppError(Exception):
    """An error a client caused or can act on; `where` names the field or thing at fault."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, where: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.headers = headers

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"id": self.code, "message": self.message}
        if self.where:
            body["where"] = self.where
        return body


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(AppError):
    status_code = 422
    code = "invalid_params"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"

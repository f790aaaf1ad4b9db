"""Errors that reach the API caller. One body shape: {"message": ..., "errors": {...}}."""

from __future__ import annotations


class ApiError(Exception):
    status_code = 500
    default_message = "The server could not handle this request."
    title: str | None = None  # the web UI's error page title; None: by status code

    def __init__(
        self,
        message: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, object]:
        return {"message": self.message, "errors": self.errors}


class BadRequest(ApiError):
    status_code = 400
    default_message = "The request body is not valid JSON."


class Unauthorized(ApiError):
    status_code = 401
    default_message = "Missing, invalid or revoked API token."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="runhub"'})


class Forbidden(ApiError):
    status_code = 403
    default_message = "Your role does not allow this action."


class NotFound(ApiError):
    status_code = 404
    default_message = "The requested resource does not exist."


class MethodNotAllowed(ApiError):
    status_code = 405
    default_message = "This method is not allowed for this endpoint."


class PayloadTooLarge(ApiError):
    status_code = 413
    default_message = "The request body is too large."


class UnsupportedMediaType(ApiError):
    status_code = 415
    default_message = "The request body must be JSON (Content-Type: application/json)."


class Unprocessable(ApiError):
    status_code = 422
    default_message = "The given data was invalid."


class TooManyRequests(ApiError):
    status_code = 429
    default_message = "Too many requests; retry after the number of seconds in Retry-After."


class ServerBusy(ApiError):
    status_code = 503
    title = "Server busy"
    default_message = "The server is busy; retry after the number of seconds in Retry-After."


def invalid(path: str, message: str) -> Unprocessable:
    """A 422 for one field path such as ``tests.3.key``; the message names the path."""
    return Unprocessable(message, errors={path: [message]})

"""Domain exceptions raised by services, and how they become HTTP answers (JSON for the API, pages otherwise)."""
from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from rewards.extensions import api, db


class DomainError(Exception):
    """A rule refused the action; `status` is the HTTP code the caller sees."""

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def errors(self) -> dict:
        return {self.field: [self.message]} if self.field else {}


class InvalidInput(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class TooMany(DomainError):
    """A limit on how often something may be done was reached; try again later."""

    status = 429


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/webhooks/", "/healthz", "/readyz")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_body(code: int, status: str, message: str, errors: dict | None = None) -> dict:
    return {"code": code, "status": status, "message": message, "errors": errors or {}}


def _protocol_headers(error: HTTPException) -> dict:
    """The headers the error's status calls for (Allow on a 405, Retry-After…), without its HTML content type."""
    return {name: value for name, value in error.get_headers() if name.lower() != "content-type"}


def handle_http_exception(error: HTTPException):
    if wants_json():
        payload, code, headers = api.handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        payload.setdefault("errors", {})
        return jsonify(payload), code, {**_protocol_headers(error), **(headers or {})}
    return render_template("error.html", error=error), error.code, _protocol_headers(error)


def handle_domain_error(error: DomainError):
    db.session.rollback()
    names = {403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity",
             429: "Too Many Requests", 503: "Service Unavailable"}
    if wants_json():
        return jsonify(error_body(error.status, names[error.status], error.message, error.errors)), error.status
    return render_template("error.html", error=error, message=error.message), error.status


def handle_unexpected(error: Exception):
    # Never half-written data: roll the transaction back before answering.
    db.session.rollback()
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    from flask import current_app

    current_app.logger.exception("Unhandled error")
    if wants_json():
        return jsonify(error_body(500, "Internal Server Error", "An unexpected error occurred.")), 500
    return render_template("error.html", error=None, message="An unexpected error occurred."), 500


def register_errorhandlers(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)

"""The API's error contract (API.md): every 4xx is
`{"success": false, "error": "<code>", "detail": "<sentence>", "fields": {...}}`, never a 500 for bad input."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.errors import ActionError

_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_request",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        items = [_flatten(item) for item in detail]
        return items[0] if len(items) == 1 and isinstance(items[0], str) else items
    return str(detail)


def _sentence(fields: dict[str, Any]) -> str:
    parts = []
    for name, problem in fields.items():
        text = (
            problem
            if isinstance(problem, str)
            else "; ".join(map(str, problem))
            if isinstance(problem, list)
            else "invalid"
        )
        parts.append(text if name == "non_field_errors" else f"{name}: {text}")
    return "The request is not valid. " + " ".join(p if p.endswith(".") else p + "." for p in parts)


def error_response(code: str, detail: str, status_code: int, fields: dict[str, Any] | None = None) -> Response:
    return Response({"success": False, "error": code, "detail": detail, "fields": fields or {}}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ActionError):
        fields = {exc.field: exc.detail} if exc.field else {}
        return error_response(exc.code, exc.detail, exc.status, fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail) if isinstance(exc.detail, dict) else {"non_field_errors": _flatten(exc.detail)}
        response.data = {"success": False, "error": "invalid", "detail": _sentence(fields), "fields": fields}
        return response
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), exc.default_code)
    detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(_flatten(exc.detail))
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        # The same number as DRF's Retry-After header.
        detail = f"Too many requests for this API key; try again in {math.ceil(wait)} seconds."
    response.data = {"success": False, "error": code, "detail": detail, "fields": {}}
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response

"""Check each REST request against Discord's own OpenAPI description (when it is available).

The spec is ~1 MB; it is parsed once per process and shared by every stand-in. Its server
is rewritten to a loopback URL template so one parsed copy serves any port.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SPEC_ENV = "DISCORD_API_SPEC"
LOOPBACK_SERVER = {
    "url": "http://127.0.0.1:{port}/api/v10",
    "variables": {"port": {"default": "80"}},
}

_SPECS: dict[str, Any] = {}


def spec_path_from_env() -> str | None:
    path = os.environ.get(SPEC_ENV, "").strip()
    return path or None


def load_spec(path: str) -> Any:
    """Parse the spec once per process (openapi-core objects are reusable and read-only)."""
    if path not in _SPECS:
        # Imported lazily: runs without DISCORD_API_SPEC need no openapi-core at all.
        from openapi_core import Config, OpenAPI

        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
        spec["servers"] = [LOOPBACK_SERVER]
        _accept_integer_snowflakes(spec)
        # The spec is trusted input; validating the spec itself costs seconds and finds nothing.
        _SPECS[path] = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
    return _SPECS[path]


def _accept_integer_snowflakes(spec: dict[str, Any]) -> None:
    """Let request bodies carry snowflakes as JSON integers.

    The spec types every snowflake as a string, but Discord accepts integers in request bodies
    and its docs show them (an upload's `"attachments": [{"id": 0, ...}]` names files[0]).
    discord.py relies on that everywhere (attachment indexes, message_reference, allowed
    mentions), so without this every file upload would be a false violation. Parameters keep
    the string schema: openapi-core deserialises them by a single declared type.
    """
    schemas = spec["components"]["schemas"]
    schemas[_LOOSE] = {**schemas["SnowflakeType"], "type": ["string", "integer"], "minimum": 0}
    _retarget(spec, outside_parameters=True)


_SNOWFLAKE_REF = "#/components/schemas/SnowflakeType"
_LOOSE = "SnowflakeTypeOrInteger"


def _retarget(node: Any, outside_parameters: bool) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and value == _SNOWFLAKE_REF and outside_parameters:
                node[key] = f"#/components/schemas/{_LOOSE}"
            else:
                _retarget(value, outside_parameters and key != "parameters")
    elif isinstance(node, list):
        for item in node:
            _retarget(item, outside_parameters)


@dataclass
class _Request:
    """The minimal openapi-core Request protocol."""

    host_url: str
    path: str
    method: str
    parameters: Any
    body: bytes | None
    content_type: str


@dataclass
class _Response:
    """The minimal openapi-core Response protocol."""

    status_code: int
    data: bytes | None
    content_type: str
    headers: Mapping[str, str]


class SpecValidator:
    def __init__(self, spec_path: str, host_url: str) -> None:
        self._api = load_spec(spec_path)
        self._host_url = host_url

    def request(self, method: str, raw_path: str, query: Mapping[str, str],
                headers: Mapping[str, str], body: bytes | None, content_type: str) -> _Request:
        from openapi_core.datatypes import RequestParameters

        return _Request(self._host_url, raw_path, method.lower(),
                        RequestParameters(query=query, header=headers, cookie={}),
                        body, content_type)

    def check_request(self, request: _Request) -> list[str]:
        """The bot's request against the spec: violations as short strings."""
        return self._run(self._api.validate_request, request)

    def check_response(self, request: _Request, status: int, body: bytes | None,
                       headers: Mapping[str, str]) -> list[str]:
        """The stand-in's own answer against the spec: keeps the stand-in honest."""
        response = _Response(status, body, headers.get("Content-Type", ""), headers)
        return self._run(self._api.validate_response, request, response)

    def _run(self, check: Any, request: _Request, *args: Any) -> list[str]:
        try:
            with warnings.catch_warnings():
                # Operations that also allow OAuth2 make openapi-core warn on every request.
                warnings.filterwarnings("ignore", "Unsupported scheme type")
                check(request, *args)
        except Exception as exc:  # openapi-core raises one error type per failed aspect
            return [f"{request.method.upper()} {request.path}: {describe(exc)}"]
        return []


def describe(exc: BaseException) -> str:
    """Name the failing field and rule without dumping kilobytes of schema."""
    cause = exc.__cause__ or exc
    errors = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None)
    if not errors:
        return f"{type(exc).__name__}: {str(cause)[:300]}"
    lines = [type(exc).__name__]
    for error in list(errors)[:5]:
        lines.append(_schema_error_line(error))
    return "; ".join(lines)


def _schema_error_line(error: Any) -> str:
    # anyOf/oneOf failures nest the useful message one level down.
    if getattr(error, "context", None):
        from jsonschema.exceptions import best_match

        inner = best_match(error.context)
        if inner is not None:
            error = inner
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    return f"{where}: {error.message[:200]}"

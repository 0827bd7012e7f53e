"""The OpenAPI description of a JSON listener, complete, and its pages from local assets.

Litestar describes what it can see: paths, parameters, the response Structs. It cannot see what
this service does on purpose out of its sight: bodies read raw and decoded strictly
(`RawBody`), answers refused as problem+json by our handlers, the strict body rules and the
server's own limits. Each handler says what it takes and refuses in its `opt` (`api_doc(...)`);
`complete_document` adds, to Litestar's document:

- the request body of every operation (the msgspec Struct's JSON Schema; optional where an
  empty body is allowed);
- every problem+json response, one per status, with the `code`s it can carry (an `enum`, one
  example per code) and the `Problem` shape the service really answers (not Litestar's default);
  `Retry-After` on 429 and 503;
- the codes every operation can meet: the body rules on POST, the server's limits, 500 and 503;
- the security schemes of the listener.

Swagger UI and ReDoc are served from `certsvc/openapi_assets/` (no CDN; licences beside them).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin
from litestar.router import Router
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from certsvc.errors import CATALOGUE, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, CodeInfo

ASSETS = Path(__file__).resolve().parent / "openapi_assets"
SCHEMA_PATH = "/schema"
ASSETS_PATH = SCHEMA_PATH + "/assets"
DOC_OPT = "certsvc_api_doc"

#: What every operation can meet: the server's own limits, an internal error, a busy server.
ALWAYS = ("HEADERS_TOO_LARGE", "REQUEST_TIMEOUT", "INTERNAL_ERROR", "SERVER_BUSY")
#: What every operation with a body can meet (certsvc.strict_body).
BODY_RULES = ("MALFORMED_REQUEST", "JSON_DUPLICATE_KEY", "BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE")
#: What every operation that reaches PostgreSQL or Redis can meet.
STORES = ("DEPENDENCY_UNAVAILABLE",)

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
_ALLOW = {"description": "The methods this path accepts", "schema": {"type": "string"}}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, as every 4xx/5xx of the service; the members "
    "beyond these five are named per code (e.g. `current_terms_version`, `hours`, `state`).",
    "required": ["type", "title", "status", "code", "request_id"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]+$"},
        "request_id": {"type": "string"},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}


class ApiDoc(msgspec.Struct, frozen=True, kw_only=True):
    """What one operation takes and can refuse, beyond what Litestar sees."""

    request: Any = None
    """The msgspec Struct of the JSON body, or None for an operation without one."""
    request_optional: bool = False
    """True when an empty body is accepted too."""
    codes: tuple[str, ...] = ()
    """The operation's own problem codes (ALWAYS, BODY_RULES and STORES are added)."""
    stores: bool = True
    """Whether the operation reaches PostgreSQL or Redis (then 503 DEPENDENCY_UNAVAILABLE)."""
    response: Any = None
    """The msgspec type of the success answer when Litestar cannot see it (`Response[Any]`)."""


def api_doc(
    *,
    request: Any = None,
    request_optional: bool = False,
    codes: Iterable[str] = (),
    stores: bool = True,
    response: Any = None,
) -> dict[str, ApiDoc]:
    """A handler's `opt=` describing it (see `complete_document`)."""
    return {
        DOC_OPT: ApiDoc(
            request=request,
            request_optional=request_optional,
            codes=tuple(codes),
            stores=stores,
            response=response,
        )
    }


def _schemas_of(type_: Any, components: dict[str, Any]) -> dict[str, Any]:
    (schema,), defs = msgspec.json.schema_components(
        [type_], ref_template="#/components/schemas/{name}"
    )
    components.update(defs)
    return schema


def _problem_responses(codes: Iterable[str], table: Mapping[str, CodeInfo]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(table[code].status, []).append(code)
    responses: dict[str, Any] = {}
    for status, listed in sorted(by_status.items()):
        examples = {
            code: {
                "summary": table[code].title,
                "value": {
                    "type": PROBLEM_TYPE_BASE + code.lower().replace("_", "-"),
                    "title": table[code].title,
                    "status": status,
                    "code": code,
                    "request_id": "0f6c2a9e5b3d4c1a8e7f6a5b4c3d2e1f",
                },
            }
            for code in listed
        }
        response: dict[str, Any] = {
            "description": " / ".join(f"`{code}`: {table[code].title}" for code in listed),
            "content": {
                PROBLEM_CONTENT_TYPE: {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/Problem"},
                            {
                                "type": "object",
                                "properties": {
                                    "status": {"const": status},
                                    "code": {"enum": listed},
                                },
                            },
                        ]
                    },
                    "examples": examples,
                }
            },
        }
        if status in (429, 503):
            response["headers"] = {"Retry-After": _RETRY_AFTER}
        responses[str(status)] = response
    return responses


def complete_document(
    document: Mapping[str, Any],
    operations: Iterable[tuple[str, str, ApiDoc | None]],
    *,
    codes: Mapping[str, CodeInfo],
    security_schemes: Mapping[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """`document` (Litestar's OpenAPI as a dict) with what `ApiDoc`s say for each
    `(path, method, doc)` of `operations`; `codes` resolves every code's status and title."""
    out: dict[str, Any] = copy.deepcopy(dict(document))
    components = out.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    table = {**CATALOGUE, **codes}
    for path, method, doc in operations:
        operation = out.get("paths", {}).get(path, {}).get(method.lower())
        if operation is None:
            continue
        own = doc.codes if doc is not None else ()
        listed = list(own)
        if method.upper() in ("POST", "PUT", "PATCH"):
            listed += BODY_RULES
        if doc is None or doc.stores:
            listed += STORES
        listed += ALWAYS
        unknown = [code for code in listed if code not in table]
        if unknown:
            raise ValueError(f"{method} {path} documents unknown codes: {unknown}")
        responses = {
            status: response
            for status, response in operation.get("responses", {}).items()
            if not status.startswith(("4", "5"))  # Litestar's own error shapes: not ours
        }
        if doc is not None and doc.response is not None:
            for status, response in responses.items():
                if status.startswith("2"):
                    response["content"] = {
                        "application/json": {"schema": _schemas_of(doc.response, schemas)}
                    }
        responses.update(_problem_responses(listed, table))
        operation["responses"] = responses
        if doc is not None and doc.request is not None:
            operation["requestBody"] = {
                "required": not doc.request_optional,
                "description": "JSON (UTF-8), decoded strictly: unknown members, wrong types and "
                "duplicate members are refused",
                "content": {"application/json": {"schema": _schemas_of(doc.request, schemas)}},
            }
    if security_schemes:
        components["securitySchemes"] = dict(security_schemes)
    if security is not None:
        out["security"] = security
    return out


def _operations(request: Request[Any, Any, Any]) -> list[tuple[str, str, ApiDoc | None]]:
    found: list[tuple[str, str, ApiDoc | None]] = []
    for route in request.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            doc = handler.opt.get(DOC_OPT)
            found.extend((route.path_format, method, doc) for method in handler.http_methods)
    return found


class _Completing:
    """Mixin of the render plugins: they render the completed document, built once."""

    completion: dict[str, Any]
    _completed: dict[str, Any] | None = None

    def _complete(
        self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]
    ) -> dict[str, Any]:
        if self._completed is None:
            self._completed = complete_document(
                openapi_schema, _operations(request), **self.completion
            )
        return self._completed


class CompleteJson(_Completing, JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._complete(request, openapi_schema))


class CompleteSwagger(_Completing, SwaggerRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._complete(request, openapi_schema))


class CompleteRedoc(_Completing, RedocRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._complete(request, openapi_schema))


def documented_openapi(
    *,
    title: str,
    description: str,
    codes: Mapping[str, CodeInfo] | None = None,
    security_schemes: Mapping[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> OpenAPIConfig:
    """The OpenAPI config of a listener: `/schema/openapi.json` (complete), `/schema/swagger`
    and `/schema/redoc` from local assets. Add `docs_assets()` to the listener's routes."""
    completion: dict[str, Any] = {
        "codes": dict(codes or {}),
        "security_schemes": security_schemes,
        "security": security,
    }
    plugins: list[Any] = [
        CompleteJson(),
        CompleteSwagger(
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            favicon="",
        ),
        CompleteRedoc(js_url=f"{ASSETS_PATH}/redoc.standalone.js", google_fonts=False, favicon=""),
    ]
    for plugin in plugins:
        plugin.completion = completion
    return OpenAPIConfig(
        title=title,
        version="1",
        description=description,
        path=SCHEMA_PATH,
        render_plugins=plugins,
    )


def docs_assets() -> Router:
    """The route of the documentation pages' scripts and styles (`certsvc/openapi_assets/`)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS],
        include_in_schema=False,
        opt=api_doc(stores=False),
    )

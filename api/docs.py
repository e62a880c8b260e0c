"""The API's own documentation routes: the OpenAPI schema, Swagger UI and ReDoc, served offline.

Declared here rather than by FastAPI's defaults so that they carry the same authorization
dependency as the data routes (with ETL_API_TOKEN set, the schema and the pages need the token
too). FastAPI's pages load Swagger UI and ReDoc from a CDN, blank without internet; here every
asset they reference (scripts, style sheet, favicon) comes from this API, out of the package
``fastapi-standalone-docs``, which ships them as package data. Nothing names another host.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures.
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Path, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from .deps import Authorized, SettingsDep

OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs/assets"

_STATIC = files("fastapi_standalone_docs") / "static"
# name under ASSETS_URL -> (file in the package, media type): only these are served.
ASSETS = {
    "swagger-ui-bundle.js": (_STATIC / "swagger" / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_STATIC / "swagger" / "swagger-ui.css", "text/css"),
    "redoc.standalone.js": (_STATIC / "redoc" / "redoc.standalone.js", "text/javascript"),
    "favicon.png": (_STATIC / "fastapi" / "favicon.png", "image/png"),
}

router = APIRouter(dependencies=[Authorized], include_in_schema=False)


def published_schema(app: FastAPI, token_required: bool) -> dict:
    """The OpenAPI schema as this API runs: without a token configured, no route asks for one."""
    schema = app.openapi()
    if token_required:
        return schema
    schema = {
        **schema,
        "paths": {
            path: {
                method: {k: v for k, v in operation.items() if k != "security"} for method, operation in item.items()
            }
            for path, item in schema["paths"].items()
        },
    }
    components = {k: v for k, v in schema.get("components", {}).items() if k != "securitySchemes"}
    return {**schema, "components": components}


def _url(request: Request, path: str) -> str:
    """``path`` under the prefix the app is served from (a proxy's root_path), if any."""
    return f"{request.scope.get('root_path', '').rstrip('/')}{path}"


@router.get(OPENAPI_URL)
def openapi(request: Request, settings: SettingsDep) -> JSONResponse:
    return JSONResponse(published_schema(request.app, settings.api_token is not None))


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_url(request, OPENAPI_URL),
        title=f"{request.app.title} – Swagger UI",
        swagger_js_url=_url(request, f"{ASSETS_URL}/swagger-ui-bundle.js"),
        swagger_css_url=_url(request, f"{ASSETS_URL}/swagger-ui.css"),
        swagger_favicon_url=_url(request, f"{ASSETS_URL}/favicon.png"),
        # No "valid" badge fetched from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_url(request, OPENAPI_URL),
        title=f"{request.app.title} – ReDoc",
        redoc_js_url=_url(request, f"{ASSETS_URL}/redoc.standalone.js"),
        redoc_favicon_url=_url(request, f"{ASSETS_URL}/favicon.png"),
        with_google_fonts=False,
    )


@router.get(ASSETS_URL + "/{name}")
def asset(name: Annotated[str, Path(max_length=64)]) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(status_code=404, detail=f"No documentation asset {name[:64]!r}.")
    source, media_type = ASSETS[name]
    return FileResponse(str(source), media_type=media_type)

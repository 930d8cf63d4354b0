"""Swagger UI served by payflow itself, so `/swagger/index.html` works without internet.

Litestar's Swagger plugin points the page at a CDN by default; here its script and
styles come from the pinned `swagger-ui-py` package (Swagger UI 5, which reads the
OpenAPI 3.1 document Litestar writes), served by a static files router. Only the
package's `static/` folder is used, never its Python code.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/static/swagger-ui"


def assets_directory() -> Path:
    """`swagger_ui/static` of the installed package, found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (it is in requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def assets_router() -> Router:
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[assets_directory()],
        name="swagger-ui-assets",
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )


def render_plugin(path: str | Sequence[str]) -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        path=path,
    )

"""/docs and /redoc work offline: every asset the pages reference comes from the API itself.

Against the test stack's API (its own uvicorn process) over HTTP, and against the same app
started with a token, where the pages and their assets need it like every other route.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from harness.fault_servers import serve_api

PAGES = ["/docs", "/redoc"]
# What each kind of reference must be served as.
MEDIA_TYPES = {"script": "text/javascript", "stylesheet": "text/css", "icon": "image/"}
TOKEN = "t0ken-for-docs"


class AssetReferences(HTMLParser):
    """The URLs a browser would fetch for the page: scripts, linked style sheets and icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []  # (kind, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.assets.append(("script", values["src"]))
        elif tag == "link" and values.get("href"):
            rel = (values.get("rel") or "").lower()
            self.assets.append(("stylesheet" if "stylesheet" in rel else "icon", values["href"]))
        elif tag == "img" and values.get("src"):
            self.assets.append(("icon", values["src"]))


def referenced_assets(html: str) -> list[tuple[str, str]]:
    parser = AssetReferences()
    parser.feed(html)
    return parser.assets


def assert_page_is_self_contained(base_url: str, path: str, headers: dict | None = None) -> list[str]:
    """Fetch the page and every asset it references from the API; return the asset URLs."""
    page = httpx.get(f"{base_url}{path}", headers=headers)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    api_host = urlsplit(base_url).netloc
    # No other host anywhere in the page: not in a reference, not in the inline script.
    for url in re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", page.text):
        assert urlsplit(url if ":" in url.split("//")[0] else f"http:{url}").netloc == api_host, url
    assets = referenced_assets(page.text)
    kinds = {kind for kind, _ in assets}
    assert "script" in kinds, f"{path} references no script: {assets}"
    for kind, reference in assets:
        url = urljoin(f"{base_url}{path}", reference)
        assert urlsplit(url).netloc == api_host, f"{path} loads {reference} from another host"
        answer = httpx.get(url, headers=headers)
        assert answer.status_code == 200, f"{reference}: HTTP {answer.status_code}"
        assert answer.headers["content-type"].startswith(MEDIA_TYPES[kind]), (reference, answer.headers["content-type"])
        assert len(answer.content) > 0, reference
    return [urljoin(f"{base_url}{path}", reference) for _, reference in assets]


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_load_every_asset_from_the_api_itself(settings, path):
    assets = assert_page_is_self_contained(settings.api_base_url, path)
    if path == "/docs":
        assert any(url.endswith(".css") for url in assets)  # Swagger UI's style sheet too


def test_the_scripts_are_the_real_swagger_ui_and_redoc(api):
    page = httpx.get(f"{api.base_url}/docs").text
    [(_, swagger)] = [a for a in referenced_assets(page) if a[0] == "script"]
    assert "SwaggerUIBundle" in api.get(swagger).text
    page = httpx.get(f"{api.base_url}/redoc").text
    [(_, redoc)] = [a for a in referenced_assets(page) if a[0] == "script"]
    assert "Redoc" in api.get(redoc).text


def test_only_the_shipped_assets_are_served(api):
    for name in ("missing.js", "..%2F..%2Fapi%2Fmain.py", "%2Fetc%2Fpasswd"):
        assert api.get(f"/docs/assets/{name}").status_code == 404


@pytest.fixture(scope="module")
def token_api(settings):
    with serve_api(settings.model_copy(update={"api_token": SecretStr(TOKEN)})) as url:
        yield url


@pytest.mark.parametrize("path", PAGES)
def test_with_a_token_the_pages_and_their_assets_need_it(token_api, path):
    assets = assert_page_is_self_contained(token_api, path, headers={"Authorization": f"Bearer {TOKEN}"})
    for url in [f"{token_api}{path}", *assets]:
        refused = httpx.get(url)
        assert refused.status_code == 401, url
        assert refused.headers["www-authenticate"] == "Bearer"

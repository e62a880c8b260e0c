"""The documentation site (mkdocs.yml, docs/): the generated pages are what the code makes now, the
site builds strictly (a broken link or anchor, or a page left out of the navigation, fails it), it
loads nothing from another host, and the README stays short with links that hold.

No database, no API, no server: mkdocs builds into a temporary folder, in a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmarks import docs_page
from benchmarks.bench import SAVED
from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.ops import reference

DOCS = PROJECT_ROOT / "docs"
README = PROJECT_ROOT / "README.md"
README_MAX_LINES = 150
# MkDocs 1.6 with Material 9.7+ prints a banner about MkDocs 2.0 on every build; it says nothing about this site.
MKDOCS_ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def generated_pages() -> dict[str, str]:
    """Every generated page (its path under docs/) and what the generators make of the code now."""
    pages = {f"reference/{name}": make() for name, make in reference.PAGES.items()}
    pages["reference/performance.md"] = docs_page.page(json.loads(SAVED.read_text()))
    return pages


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        env=MKDOCS_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- (a) the generated pages ------------------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(generated_pages()))
def test_each_generated_page_is_what_the_code_makes_now(page):
    expected = generated_pages()[page]
    path = DOCS / page
    assert path.exists(), f"docs/{page} is missing: run `make docs` and commit it"
    assert path.read_text(encoding="utf-8") == expected, (
        f"docs/{page} is not what the code generates now: run `make docs` and commit the result"
    )


def test_generated_pages_say_so_and_hold_no_machine_paths():
    for page, text in generated_pages().items():
        first = text.splitlines()[0]
        assert first.startswith("<!-- Generated from ") and "make docs" in first, page
        assert str(PROJECT_ROOT) not in text, f"{page} shows a path of this machine"


def test_every_setting_is_documented_where_it_is_declared():
    rows = reference.setting_rows()  # raises for a field without a description
    defaults = {variable: default for variable, default, _ in rows}
    assert defaults["ETL_STACK_DIR"].startswith("`.stack/`") and defaults["ETL_RUNS_DIR"].startswith("`runs/`")


def test_the_cli_page_has_every_command_and_option():
    import typer.main

    from etl_lib.ops.cli import app

    page = reference.cli_page()
    root = typer.main.get_command(app)
    for path, command in reference._commands(root, ("etl",)):
        assert f"### `{' '.join(path)}`" in page
        for param in command.params:
            names = param.opts if param.param_type_name == "option" else [param.name.upper()]
            assert all(f"`{name}`" in page for name in names), (path, param.name)


# --- (b) the strict build ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    done = mkdocs_build(PROJECT_ROOT / "mkdocs.yml", folder)
    assert done.returncode == 0, f"`mkdocs build --strict` failed:\n{done.stderr[-4000:]}"
    return folder


def test_the_site_builds_strictly_with_a_page_for_every_source(site):
    for source in DOCS.glob("*.md"):
        assert (site / source.with_suffix(".html").name).exists(), source.name


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("broken link", "is not found among documentation files"),
        ("broken anchor", "does not contain an anchor"),
        ("page left out of the navigation", 'not included in the "nav" configuration'),
    ],
)
def test_the_strict_build_fails_on(tmp_path, breakage, message):
    """The validation settings of mkdocs.yml do their work: each breakage fails the build and is named."""
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", tmp_path)
    shutil.copytree(DOCS, tmp_path / "docs")
    if breakage == "broken link":
        with (tmp_path / "docs" / "kpis.md").open("a") as page:
            page.write("\nSee [a page that is not there](nowhere.md).\n")
    elif breakage == "broken anchor":
        with (tmp_path / "docs" / "kpis.md").open("a") as page:
            page.write("\nSee [a section that is not there](quality.md#no-such-section).\n")
    else:
        (tmp_path / "docs" / "stray.md").write_text("# A page nobody can reach\n")
    done = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert message in done.stderr


# --- (c) nothing from another host -----------------------------------------------------------------

REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
# Attributes by which a page loads something (an <a href> is a link the reader may follow, not a load).
LOADING = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "audio": "src",
    "video": "src",
    "embed": "src",
    "object": "data",
    "link": "href",
}
CSS_REMOTE = re.compile(r"@import\s+(url\()?\s*['\"]?\s*(https?:)?//|url\(\s*['\"]?\s*(https?:)?//", re.I)


class _Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        url = attributes.get(LOADING.get(tag, ""))
        if url and REMOTE.match(url) and not (tag == "link" and attributes.get("rel") in ("canonical", "alternate")):
            self.remote.append(f"<{tag} {LOADING[tag]}={url!r}>")
        if attributes.get("style"):
            self.styles.append(attributes["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def test_the_site_loads_nothing_from_another_host(site):
    found = []
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        parser = _Loads()
        parser.feed(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(site)}: {item}" for item in parser.remote]
        found += [f"{path.relative_to(site)}: <style> {s[:80]}" for s in parser.styles if CSS_REMOTE.search(s)]
    for path in site.rglob("*.css"):
        found += [
            f"{path.relative_to(site)}: {m.group(0)}" for m in CSS_REMOTE.finditer(path.read_text(encoding="utf-8"))
        ]
    assert found == [], "the site loads from another host:\n" + "\n".join(found)


# --- (d) the README -----------------------------------------------------------------------------------

MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_the_readme_is_short_and_its_relative_links_hold():
    text = README.read_text(encoding="utf-8")
    lines = text.count("\n") + (not text.endswith("\n"))
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines, at most {README_MAX_LINES}: move detail to docs/"
    targets = [t for t in MARKDOWN_LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t, re.I)]
    assert targets, "README.md links to no page of the docs"
    missing = [t for t in targets if not (PROJECT_ROOT / t.split("#")[0]).exists()]
    assert missing == [], f"README.md links to files that do not exist: {missing}"
    assert any(t.startswith("docs/") for t in targets)

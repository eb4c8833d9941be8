"""The README stays the newcomer's page and points to every page of the documentation site.

The site itself (mkdocs.yml) is built with ``--strict`` by ``make test``, which
fails on a broken link or anchor and on a page left out of the navigation.
"""

from tests.support.processes import ROOT

DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()


def _pages() -> dict[str, str]:
    """Each top-level page of the site, by the path the README links it with."""
    pages = {}
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "index.md":
            # A page that is a link (security.md) is linked from the README where it really lives.
            pages[page.name] = str(page.resolve().relative_to(ROOT)) if page.is_symlink() else f"docs/{page.name}"
    return pages


def test_the_readme_links_every_page_of_the_site():
    missing = [path for path in _pages().values() if f"]({path})" not in README]

    assert _pages() and missing == []


def test_the_site_index_links_every_page():
    index = (DOCS / "index.md").read_text()

    assert [name for name in _pages() if f"]({name})" not in index] == []


def test_the_readme_stays_short():
    assert len(README.splitlines()) < 250

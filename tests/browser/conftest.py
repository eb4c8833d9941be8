"""Browser tests: Debian's Chromium, headless, driven by Playwright, against pytest-django's live server.

Playwright's own browser download is never used. Locally the tests skip when
/usr/bin/chromium is missing; with CI set they fail instead (.ci/run installs it).
"""

import base64
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "browser-tests-only-pw"
TIMEOUT_MS = 10_000


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        reason = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own
    # ORM calls (setting up data, checking results) are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(autouse=True)
def _empty_cache():
    """The dashboard caches its daily series; each browser test draws from its own data."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def staff_member(username: str, role: str) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def navigate(page, selector: str) -> None:
    """Click something that loads a new page, and wait until it has."""
    with page.expect_navigation():
        page.click(selector)


def log_in(page, username: str, lands: str = "/admin/") -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    navigate(page, "input[type=submit]")
    assert page.url.endswith(lands), page.url


def screenshot(page, name: str) -> bytes:
    SCREENSHOTS.mkdir(exist_ok=True)
    return page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def messages(page) -> list[str]:
    return page.locator("ul.messagelist li").all_inner_texts()


def png_ink(page, png: bytes) -> dict:
    """How much of a PNG is drawn: decoded by the browser itself, no imaging library needed.

    Returns the share of pixels that differ from the top-left (background)
    pixel and how many distinct colours there are.
    """
    return page.evaluate(
        """async (data) => {
            const image = new Image();
            image.src = "data:image/png;base64," + data;
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = image.width; canvas.height = image.height;
            const context = canvas.getContext("2d");
            context.drawImage(image, 0, 0);
            const pixels = context.getImageData(0, 0, image.width, image.height).data;
            const background = pixels.slice(0, 4).join(",");
            const colours = new Set();
            let inked = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const colour = pixels.slice(i, i + 4).join(",");
                colours.add(colour);
                if (colour !== background) inked += 1;
            }
            return {inked: inked / (pixels.length / 4), colours: colours.size};
        }""",
        base64.b64encode(png).decode(),
    )

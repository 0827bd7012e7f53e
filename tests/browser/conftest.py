"""Browser tests of the counter page: Playwright for Python driving Debian's chromium.

What they need beyond pip (chromium, fonts-ipafont-gothic, axe-core) is installed by
scripts/install-test-deps.sh, which this conftest runs when something is missing; where it
cannot install, the session fails with its message — these tests never skip. The counter runs
under uvicorn on a free loopback port, on the session's real PostgreSQL and Redis, with a clock
the tests move. Screenshots of every screen go to .cache/browser-screenshots/ (printed).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
import redis.asyncio as redis_asyncio
import uvicorn

from certsvc.counter import create_counter_app
from certsvc.server import free_port
from certsvc.settings import Settings
from tests.e2e.conftest import MovableClock, clock, staff
from tests.e2e.counter_flow import COUNTER_KEY

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
FONT = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
SCREENSHOTS = ROOT / ".cache" / "browser-screenshots"
__all__ = ["clock", "staff"]  # the e2e fixtures, shared


def _missing() -> list[str]:
    missing = []
    if shutil.which("chromium") is None:
        missing.append("chromium")
    if not FONT.exists():
        missing.append("fonts-ipafont-gothic")
    if not AXE.exists():
        missing.append("axe-core")
    return missing


@pytest.fixture(scope="session")
def browser_deps() -> Path:
    """The path of axe.min.js, once chromium, the font and axe-core are installed."""
    if _missing():
        script = ROOT / "scripts" / "install-test-deps.sh"
        run = subprocess.run([str(script)], capture_output=True, text=True, check=False)
        if run.returncode != 0 or _missing():
            pytest.fail(
                "browser tests need " + ", ".join(_missing()) + "; scripts/install-test-deps.sh "
                f"could not install them:\n{run.stderr[-2000:]}",
                pytrace=False,
            )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {SCREENSHOTS}")  # noqa: T201
    return AXE


class LiveCounter:
    """The counter app under uvicorn in a thread of its own (its own event loop)."""

    def __init__(self, settings: Settings, clock: MovableClock) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_counter_app(settings, clock=clock, session_key=COUNTER_KEY)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveCounter:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("the counter did not start")
            threading.Event().wait(0.02)
        raise RuntimeError("the counter did not start in 10 s")

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_counter(
    world_settings: Settings,
    loaded_db: asyncpg.Pool,
    redis_client: redis_asyncio.Redis,
    clock: MovableClock,
    browser_deps: Path,
) -> Iterator[LiveCounter]:
    settings = msgspec.structs.replace(world_settings, counter_session_key=COUNTER_KEY)
    with LiveCounter(settings, clock) as live:
        yield live


@pytest.fixture(scope="session")
async def browser(browser_deps: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium"
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any, live_counter: LiveCounter) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=live_counter.url,
        viewport={"width": 1280, "height": 800},
        locale="ja-JP",
        accept_downloads=True,
    )

    # Nothing leaves the machine: every request that is not to the counter is aborted.
    async def only_the_counter(route: Any) -> None:
        if route.request.url.startswith(live_counter.url):
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", only_the_counter)
    new_page = await context.new_page()
    try:
        yield new_page
    finally:
        await context.close()

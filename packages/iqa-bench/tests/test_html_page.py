"""The HTML leaderboard in headless Chromium: it loads from file://, sorts on click and by URL hash, shows plots.

Chromium is driven through the DevTools protocol over pipes (``--remote-debugging-pipe``: commands
on fd 3, replies on fd 4, NUL-separated JSON), so no Selenium or websocket client is needed.
Needs Debian's ``chromium`` at /usr/bin/chromium: missing, the tests fail (never skip).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
SCRIPT_NAME = "<script>alert(1)</script>"
IMG_NAME = '<img src=x onerror="window.__xss=1">'


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            "headless Chromium is required for the HTML page tests: run `apt-get install chromium chromium-driver`"
        )


class DevTools:
    """A headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child, before exec: fd 3 = commands, fd 4 = replies
            commands = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            replies = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=wire,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.session = ""

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 20.0) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return dict(reply.get("result", {}))
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {method} within {timeout} s")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        deadline = time.monotonic() + 20
        while self.evaluate("document.body ? document.body.getAttribute('data-ready') : null") != "1":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            time.sleep(0.05)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed + released) at the centre of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._out)
        os.close(self._in)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = synthetic_rows()
    for row in rows:
        if row["defence"] == "bad":
            row["defence"] = SCRIPT_NAME
        if row["attack"] == "advcf":
            row["attack"] = IMG_NAME
    out = tmp_path_factory.mktemp("report")
    written = write_report(rows, [], BOUNDS, out, formats=("html",), title="Synthetic <b>board</b>")
    return written["html"][0]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    _require_chromium()
    tools = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield tools
    finally:
        tools.close()


COLUMN = """(key, table) => {
  const t = document.getElementById(table);
  const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.getAttribute('data-key') === key);
  return Array.from(t.tBodies[0].rows).map(r => r.cells[i].getAttribute('data-value'));
}"""


def _column(browser: DevTools, key: str, table: str = "leaderboard") -> list[str]:
    return list(browser.evaluate(f"({COLUMN})({json.dumps(key)}, {json.dumps(table)})"))


def test_page_loads_from_file_and_escapes_names(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    assert browser.evaluate("document.title") == "Synthetic <b>board</b>"
    assert browser.evaluate("typeof window.iqaBenchSort") == "function"  # the page's own script ran (CSP hash)
    assert browser.evaluate("document.scripts.length") == 1
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate("window.__xss === undefined")
    defences = _column(browser, "defence")
    assert SCRIPT_NAME in defences
    assert SCRIPT_NAME in browser.evaluate("document.body.innerText")
    assert IMG_NAME in browser.evaluate("document.getElementById('heatmaps').parentNode.textContent")


def test_click_sorts_numbers_both_ways(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    browser.click("#leaderboard th[data-key='d']")
    assert browser.evaluate("document.getElementById('leaderboard').getAttribute('data-sort-dir')") == "asc"
    values = [float(v) for v in _column(browser, "d")]
    assert values == sorted(values) and len(values) == 6
    browser.click("#leaderboard th[data-key='d']")
    values = [float(v) for v in _column(browser, "d")]
    assert values == sorted(values, reverse=True)
    assert browser.evaluate("location.hash") == "#table=leaderboard&sort=d&desc=1"
    browser.click("#leaderboard th[data-key='defence']")
    names = _column(browser, "defence")
    expected = browser.evaluate(f"{json.dumps(names)}.slice().sort((a, b) => a.localeCompare(b))")
    assert names == expected and set(names) == {SCRIPT_NAME, "good", "none"}
    assert browser.evaluate("document.getElementById('leaderboard').getAttribute('data-sort-key')") == "defence"


def test_url_hash_sorts_on_load(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri() + "#sort=srocc_adv&desc=1&table=leaderboard")
    values = [float(v) for v in _column(browser, "srocc_adv")]
    assert values == sorted(values, reverse=True)
    assert browser.evaluate("document.getElementById('by-metric').getAttribute('data-sort-key')") is None


def test_plots_are_rendered_with_a_size(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    sizes = browser.evaluate(
        "Array.from(document.querySelectorAll('figure.plot svg')).map(e => {"
        " const r = e.getBoundingClientRect(); return [e.getAttribute('class'), r.width, r.height]; })"
    )
    kinds = [kind for kind, _, _ in sizes]
    assert kinds.count("heatmap") == 4  # Gain and SROCC_adv x two modes
    assert kinds.count("scatter") == 2  # SROCC_adv vs D, Quality vs Gain
    assert all(width > 100 and height > 50 for _, width, height in sizes)
    assert browser.evaluate("document.querySelectorAll('svg.heatmap rect').length") > 0
    assert browser.evaluate("document.querySelectorAll('svg.scatter circle').length") == 2 * 5  # defence presets
    assert browser.evaluate("document.querySelectorAll('svg.scatter circle[fill=\\'#d62728\\']').length") == 2


def test_dump_dom_applies_hash_sort(page: Path, tmp_path: Path) -> None:
    _require_chromium()
    result = subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri() + "#sort=d&desc=0&table=leaderboard",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    dom = result.stdout
    assert '<table class="sortable" id="leaderboard" data-sort-key="d" data-sort-dir="asc">' in dom
    assert "<script>alert(1)</script>" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom

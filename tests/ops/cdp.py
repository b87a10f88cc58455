"""A real headless Chromium driven over the DevTools protocol (CDP) with plain websockets: no driver binary whose
version must match the browser, no extra dependency. Chromium comes from the Debian package `chromium`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.fixtures.db import service_missing

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1400,900", "--hide-scrollbars")
START_DEADLINE_S = 30.0


def chromium_executable() -> str:
    """The browser, or skip (locally) / fail (CI) when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    service_missing("Chromium (apt-get install chromium)")
    raise AssertionError("unreachable")


class Page:
    """One tab: send commands, evaluate JavaScript, wait for conditions, click, take screenshots."""

    def __init__(self, ws: ClientConnection, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self._next_id = 1000
        self.errors: list[str] = []  # uncaught exceptions and console errors of the page, for failure messages

    def send(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 15.0) -> dict[str, Any]:
        self._next_id += 1
        message_id = self._next_id
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params or {},
                                 "sessionId": self.session_id}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout}s")
            message = json.loads(self.ws.recv(timeout=left))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            self._note(message)

    def _note(self, event: dict[str, Any]) -> None:
        method = event.get("method")
        params = event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 10.0, interval: float = 0.02) -> Any:
        """Poll a JavaScript expression until it is truthy; returns its value and how long it took."""
        started = time.monotonic()
        last: object = None
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError as exc:  # e.g. the document is still being replaced by a navigation
                value, last = None, exc
            if value:
                return value
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{expression!r} stayed falsy for {timeout}s (last error: {last}); "
                                     f"page errors: {self.errors}")
            time.sleep(interval)

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def click(self, selector: str) -> None:
        """A real mouse click (pressed + released) in the middle of the element."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left",
                                                   "clickCount": 1})

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium(profile: Path, *, flags: tuple[str, ...] = ()) -> Iterator[Page]:
    """Start Chromium with a fresh profile (and `flags` besides ours), open a tab, and stop it all afterwards."""
    executable = chromium_executable()
    profile.mkdir(parents=True, exist_ok=True)
    log = (profile.parent / "chromium.log").open("w")
    process = subprocess.Popen([executable, *FLAGS, *flags, f"--user-data-dir={profile}", "about:blank"],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LANG": "en_US.UTF-8"})
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_DEADLINE_S
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Chromium did not start: {(profile.parent / 'chromium.log').read_text()}")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024, open_timeout=10) as ws:
            ws.send(json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}))
            target = _answer(ws, 1)["targetId"]
            ws.send(json.dumps({"id": 2, "method": "Target.attachToTarget",
                                "params": {"targetId": target, "flatten": True}}))
            page = Page(ws, _answer(ws, 2)["sessionId"])
            for domain in ("Page.enable", "Runtime.enable"):
                page.send(domain)
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _answer(ws: ClientConnection, message_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if message.get("id") == message_id:
            if "error" in message:
                raise RuntimeError(str(message["error"]))
            return message["result"]  # type: ignore[no-any-return]
    raise TimeoutError(f"no answer to message {message_id}")

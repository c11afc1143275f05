#!/usr/bin/env python3
"""Open a Quiver page in headless Chromium the way a person does, and report what was rendered.

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: file descriptors 3 and 4,
NUL-separated JSON), so nothing but the Python standard library is needed and no port is opened.

  page_check.py --chromium PATH --base URL --page /ui/versions/NAME@1 --screenshot OUT.png

The token comes from the environment (QUIVER_TOKEN), never the command line. The script signs in the way a
person would: it opens the page, gets the sign-in form (no session yet), types the token into it and submits;
the server answers with a session cookie and redirects back to the page. Then, with script execution disabled
in the page (the page must work without JavaScript), it measures every text of the lineage picture
(getBoundingClientRect, getComputedStyle), takes a screenshot, and prints one JSON object on stdout.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class DevTools:
    def __init__(self, chromium, width, height):
        self.profile = tempfile.mkdtemp(prefix="quiver-chromium-")
        to_browser_r, self.to_browser_w = os.pipe()
        self.from_browser_r, from_browser_w = os.pipe()
        args = [
            chromium, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank",
        ]

        def child_fds():
            # The browser reads commands on fd 3 and writes answers on fd 4.
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(args, preexec_fn=child_fds, pass_fds=(3, 4, to_browser_r, from_browser_w),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=10)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        subprocess.run(["rm", "-rf", self.profile], check=False)

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser_r, 1 << 20)
            if not chunk:
                err = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None else ""
                raise RuntimeError(f"chromium closed the pipe: {err[-2000:]}")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event["method"] == method:
                    del self.events[: index + 1]
                    return event
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate_and_wait(self, action):
        """Runs `action` (which starts a navigation) and waits for the new document's load event."""
        self.events.clear()
        action()
        self.wait_for("Page.loadEventFired")


MEASURE = """
(() => {
  const svg = document.querySelector('svg.lineage');
  const box = (r) => ({x: r.x, y: r.y, width: r.width, height: r.height});
  const texts = svg ? [...svg.querySelectorAll('text')].map(t => {
    const style = getComputedStyle(t);
    return {cls: t.getAttribute('class') || '', text: t.textContent, rect: box(t.getBoundingClientRect()),
            visibility: style.visibility, display: style.display, opacity: style.opacity, fill: style.fill,
            fontSize: style.fontSize};
  }) : [];
  return {
    url: location.href, title: document.title, h1: (document.querySelector('h1') || {}).textContent || '',
    viewport: {width: innerWidth, height: innerHeight},
    scripts: document.scripts.length,
    svg: svg ? box(svg.getBoundingClientRect()) : null,
    links: svg ? [...svg.querySelectorAll('a')].map(a => a.getAttribute('href')) : [],
    sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
    bodyBackground: getComputedStyle(document.body).backgroundColor,
    headerBackground: getComputedStyle(document.querySelector('header')).backgroundColor,
    texts,
  };
})()
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--page", required=True, help="the page's path, e.g. /ui/versions/assistant@1")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1000)
    options = parser.parse_args()
    token = os.environ.get("QUIVER_TOKEN", "")
    if not token:
        sys.exit("QUIVER_TOKEN is not set")

    browser = DevTools(options.chromium, options.width, options.height)
    report = {}
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = browser.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False)
        browser.session = attached["sessionId"]
        browser.send("Page.enable")
        browser.send("Network.enable")
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": options.width, "height": options.height, "deviceScaleFactor": 1, "mobile": False})

        # 1. No session yet: the page answers with the sign-in form.
        url = options.base + options.page
        browser.navigate_and_wait(lambda: browser.send("Page.navigate", {"url": url}))
        report["before_sign_in"] = browser.evaluate(
            "({h1: document.querySelector('h1').textContent, form: !!document.querySelector('form.signin'),"
            " next: (document.querySelector('input[name=next]') || {}).value})")

        # 2. Sign in as a person would: type the token into the form and submit it.
        browser.navigate_and_wait(lambda: browser.evaluate(
            "document.querySelector('#token').value = " + json.dumps(token) + ";"
            " document.querySelector('form.signin').submit(); true"))
        report["after_sign_in"] = browser.evaluate("({url: location.href, h1: (document.querySelector('h1') || {}).textContent})")
        cookies = browser.send("Network.getCookies", {"urls": [options.base + "/ui"]})["cookies"]
        report["cookies"] = [{k: c.get(k) for k in ("name", "httpOnly", "sameSite", "path", "secure")} for c in cookies]
        report["cookie_holds_token"] = any(token in c.get("value", "") for c in cookies)

        # 3. The page again, with scripts disabled: it must render without JavaScript.
        browser.send("Emulation.setScriptExecutionDisabled", {"value": True})
        browser.navigate_and_wait(lambda: browser.send("Page.navigate", {"url": url}))
        report["page"] = browser.evaluate(MEASURE)
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        with open(options.screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        report["screenshot"] = options.screenshot
    finally:
        browser.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""Unload stale names from vLLM when a Quiver alias moves.

vLLM keeps a resolved name (``assistant@production``) loaded for good; after the alias moves it would go on serving
the old weights. This watcher tells vLLM to forget the name (``POST /v1/unload_lora_adapter``) so that the next
request resolves it anew through the Quiver resolver. Two ways to learn of a move, usable together:

- **webhook** (``--listen HOST:PORT --secret-file FILE``): receives Quiver's ``alias.moved`` deliveries
  (``quiver hook add --url http://HOST:PORT/ --events alias.moved``), verifies the HMAC signature and the
  timestamp, drops repeats by ``X-Quiver-Delivery``, and unloads ``ref``. It answers 200 when vLLM unloaded the name
  or did not have it loaded, and 503 when vLLM did not answer, so Quiver retries with backoff.
- **poll** (``--poll SECONDS``, with ``QUIVER_SERVER`` and a read token): where no webhook can reach the watcher.
  Every interval it compares, for each name the resolver has served (``resolved.json`` in the resolver's cache,
  ``QUIVER_VLLM_CACHE_DIR``) and each ``--name``, the digest the registry resolves it to now with the one vLLM
  serves, and unloads the names that moved.

    python -m quiver_vllm.watch --vllm http://127.0.0.1:8000 --listen 127.0.0.1:9100 --secret-file hook.secret
    python -m quiver_vllm.watch --vllm http://127.0.0.1:8000 --poll 10
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .client import ClientSettings, QuiverAPI, parse_ref
from .errors import QuiverVLLMError
from .resolver import STATE_FILE, ResolverSettings
from .signature import SignatureError, verify

logger = logging.getLogger("quiver_vllm.watch")

MAX_BODY = 64 << 10


class VLLMUnavailable(Exception):
    pass


def unload(vllm: str, name: str, api_key: str | None = None, timeout: float = 10.0) -> bool:
    """Asks vLLM to forget ``name``; True when it did, False when it had no such name. VLLMUnavailable otherwise."""
    body = json.dumps({"lora_name": name}).encode()
    request = urllib.request.Request(vllm.rstrip("/") + "/v1/unload_lora_adapter", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    if api_key:
        request.add_unredirected_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise VLLMUnavailable(f"vLLM answered HTTP {error.code} to unloading {name}: {error.read(300).decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError) as error:
        raise VLLMUnavailable(f"vLLM at {vllm} did not answer: {getattr(error, 'reason', error)}") from None


class Watcher:
    def __init__(self, vllm: str, api_key: str | None = None):
        self.vllm = vllm
        self.api_key = api_key
        self.seen = collections.OrderedDict()  # delivery id -> None, bounded
        self.lock = threading.Lock()
        self.unloaded = 0

    def forget(self, name: str, why: str) -> None:
        done = unload(self.vllm, name, self.api_key)
        with self.lock:
            self.unloaded += done
        logger.info("%s: %s (%s)", name, "unloaded from vLLM" if done else "was not loaded in vLLM", why)

    def handle_delivery(self, headers, body: bytes, secret: str) -> tuple[int, str]:
        """What to answer a webhook delivery: (HTTP status, message)."""
        try:
            verify(secret, headers, body)
        except SignatureError as error:
            logger.warning("refused a delivery: %s", error)
            return 401, str(error)
        delivery = headers.get("X-Quiver-Delivery", "")
        with self.lock:
            if delivery and delivery in self.seen:
                return 200, "already handled"
        try:
            event = json.loads(body)
        except ValueError:
            return 400, "the body is not JSON"
        if event.get("event") == "alias.moved" and isinstance(event.get("ref"), str):
            try:
                self.forget(event["ref"], f"alias moved to {event.get('adapter')}@{event.get('version')} "
                                          f"sha256:{str(event.get('canonical_digest', ''))[:12]}, delivery {delivery}")
            except VLLMUnavailable as error:
                logger.warning("%s", error)
                return 503, str(error)
        with self.lock:
            self.seen[delivery] = None
            while len(self.seen) > 10_000:
                self.seen.popitem(last=False)
        return 200, "ok"

    def serve(self, host: str, port: int, secret: str) -> ThreadingHTTPServer:
        watcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self._answer(413, "too large")
                status, message = watcher.handle_delivery(self.headers, self.rfile.read(length), secret)
                self._answer(status, message)

            def _answer(self, status: int, message: str):
                data = json.dumps({"status": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):  # noqa: A002
                logger.debug("%s " + format, self.address_string(), *args)

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="quiver-watch-http", daemon=True).start()
        logger.info("listening for Quiver webhooks on http://%s:%d/", host, server.server_address[1])
        return server

    def poll_once(self, api: QuiverAPI, cache_dir: str, names: list[str], baseline: dict) -> None:
        """Unloads the names whose registry digest differs from the digest vLLM was given (or first seen)."""
        state = {}
        try:
            with open(os.path.join(cache_dir, STATE_FILE), encoding="utf-8") as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            pass
        for name in sorted(set(names) | set(state)):
            ref = parse_ref(name)
            if ref is None or ref.digest or not ref.is_alias:
                continue  # a digest or a version number never moves
            try:
                detail = api.show(ref.api_ref)
            except QuiverVLLMError as error:
                logger.warning("poll of %s failed: %s", name, error)
                continue
            current = detail["version"]["canonicalDigest"]["hex"] if detail else None
            served = state.get(name, {}).get("canonical_digest") or baseline.get(name)
            if served is None:
                baseline[name] = current
                continue
            if current != served and baseline.get(("unloaded", name)) != served:
                try:
                    self.forget(name, f"poll: the registry resolves it to sha256:{(current or 'nothing')[:12]}, vLLM has sha256:{served[:12]}")
                    baseline[("unloaded", name)] = served
                    baseline[name] = current
                except VLLMUnavailable as error:
                    logger.warning("%s", error)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quiver_vllm.watch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vllm", default="http://127.0.0.1:8000", help="the vLLM OpenAI server (default %(default)s)")
    parser.add_argument("--listen", help="HOST:PORT to receive Quiver webhooks on")
    parser.add_argument("--secret-file", help="the hook's secret (first line), as 'quiver hook add' printed it")
    parser.add_argument("--poll", type=float, help="poll the registry every this many seconds (needs QUIVER_SERVER)")
    parser.add_argument("--name", action="append", default=[], help="NAME@ALIAS to poll besides those in resolved.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("QUIVER_VLLM_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.listen and not args.poll:
        parser.error("give --listen (webhooks), --poll (polling) or both")
    watcher = Watcher(args.vllm, os.environ.get("VLLM_API_KEY"))
    if args.listen:
        if not args.secret_file:
            parser.error("--listen needs --secret-file")
        with open(args.secret_file, encoding="utf-8") as handle:
            secret = handle.readline().strip()
        host, _, port = args.listen.rpartition(":")
        watcher.serve(host or "127.0.0.1", int(port), secret)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.poll:
        api = QuiverAPI(ClientSettings.from_env())
        cache_dir = ResolverSettings.from_env(argv=[]).cache_dir
        baseline: dict = {}
        while not stop.is_set():
            watcher.poll_once(api, cache_dir, args.name, baseline)
            stop.wait(args.poll)
    else:
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

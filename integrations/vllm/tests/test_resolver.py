"""Unit tests of the resolver's and watcher's logic (no vLLM, no registry): references, checks, identity,
signatures, and the watcher's answers to deliveries against a real loopback HTTP server standing in for vLLM's
unload route. Run: .venv-vllm/bin/python -m pytest integrations/vllm/tests"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from quiver_vllm.client import parse_ref
from quiver_vllm.errors import BaseModelMismatch, RankTooLarge, UnsupportedAdapter
from quiver_vllm.resolver import ResolverSettings, _max_lora_rank_from_argv, check_adapter, lora_identity
from quiver_vllm.signature import SignatureError, sign, verify
from quiver_vllm.watch import Watcher

DIGEST = "3913938924417c7f64d9f59b7bb110c5963d23cad673b9dc85d7c9c877fd0234"


def detail(base="quiver-fixtures/tiny-llama", rank=8, module_ranks=(8, 8), dora=False):
    return {"version": {"name": "assistant", "version": 2, "baseModel": base, "rank": rank, "useDora": dora,
                        "canonicalDigest": {"hex": DIGEST}},
            "modules": [{"path": f"m{i}", "rank": r} for i, r in enumerate(module_ranks)]}


@pytest.mark.parametrize("text,api_ref,alias", [
    ("assistant@production", "assistant@production", True),
    ("team/assistant@3", "team/assistant@3", False),
    (DIGEST, f"sha256:{DIGEST}", False),
    ("sha256:" + DIGEST.upper(), f"sha256:{DIGEST}", False),
])
def test_parses_references(text, api_ref, alias):
    ref = parse_ref(text)
    assert ref is not None and ref.api_ref == api_ref and ref.is_alias == alias


@pytest.mark.parametrize("text", ["assistant", "/base/model/path", "assistant@0", "assistant@", "@prod", "a@b@c", "sha256:abc", ""])
def test_leaves_other_model_names_to_other_resolvers(text):
    assert parse_ref(text) is None


def test_base_model_rule():
    settings = ResolverSettings(base_models=("quiver-fixtures/tiny-llama", "/srv/other=org/other"))
    check_adapter(detail(), "/models/tiny", settings)
    check_adapter(detail(base="/models/tiny"), "/models/tiny", ResolverSettings())  # the --model string itself
    check_adapter(detail(base="org/other"), "/srv/other", settings)
    with pytest.raises(BaseModelMismatch, match="quiver-fixtures/tiny-llama"):
        check_adapter(detail(), "/models/tiny", ResolverSettings())
    with pytest.raises(BaseModelMismatch):
        check_adapter(detail(base="org/other"), "/models/tiny", settings)  # MODEL=NAME applies to MODEL only
    check_adapter(detail(base="anything"), "/models/tiny", ResolverSettings(base_models=("*",)))


def test_rank_and_dora_are_refused_with_named_errors():
    settings = ResolverSettings(base_models=("*",), max_lora_rank=16)
    check_adapter(detail(rank=16, module_ranks=(16,)), "m", settings)
    with pytest.raises(RankTooLarge, match="rank 32"):
        check_adapter(detail(rank=8, module_ranks=(8, 32)), "m", settings)  # a rank_pattern entry above the limit
    with pytest.raises(UnsupportedAdapter, match="DoRA"):
        check_adapter(detail(dora=True), "m", settings)
    error = pytest.raises(RankTooLarge, check_adapter, detail(rank=64), "m", settings).value
    assert isinstance(error, ValueError) and error.code == "quiver_vllm.rank_too_large" and error.hint


def test_settings_from_environment_and_command_line():
    assert _max_lora_rank_from_argv(["x", "--max-lora-rank", "32"]) == 32
    assert _max_lora_rank_from_argv(["x", "--max-lora-rank=64"]) == 64
    assert ResolverSettings.from_env({}, argv=["api_server"]).max_lora_rank == 16
    settings = ResolverSettings.from_env({"QUIVER_VLLM_MAX_LORA_RANK": "8", "QUIVER_VLLM_BASE_MODEL": "a, b=c",
                                          "QUIVER_VLLM_CACHE_DIR": "/tmp/q"}, argv=["--max-lora-rank", "32"])
    assert settings.max_lora_rank == 8 and settings.base_models == ("a", "b=c") and settings.cache_dir == "/tmp/q"


def test_identity_derives_from_the_digest():
    name, int_id = lora_identity(detail()["version"])
    assert name == f"assistant@2+sha256:{DIGEST[:16]}"
    assert int_id == int(DIGEST[:8], 16) % (2**31 - 1) + 1 and int_id >= 1


def test_signature_checks_body_timestamp_and_age():
    body = b'{"event":"alias.moved"}'
    now = 1_700_000_000
    # The same vector as the Swift side's test (HookRulesTests).
    assert sign("qwh_test-secret-0123456789", now, body) == "sha256=b352515e3c4a7b3f57b477e1a10207364b761255503ba1da6ba72f1a8536d944"
    headers = {"X-Quiver-Timestamp": str(now), "X-Quiver-Signature": sign("s" * 20, now, body)}
    verify("s" * 20, headers, body, now=now + 10)
    with pytest.raises(SignatureError, match="away"):
        verify("s" * 20, headers, body, now=now + 3600)
    with pytest.raises(SignatureError, match="does not match"):
        verify("s" * 20, headers, body + b" ", now=now)
    with pytest.raises(SignatureError, match="does not match"):
        verify("t" * 20, headers, body, now=now)


class FakeUnloadRoute:
    """A loopback HTTP server answering POST /v1/unload_lora_adapter as vLLM does: 200 for a loaded name, 404
    otherwise; it records the names asked for."""

    def __init__(self, loaded):
        self.loaded, self.asked = set(loaded), []
        route = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                name = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["lora_name"]
                route.asked.append(name)
                status = 200 if name in route.loaded else 404
                route.loaded.discard(name)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def delivery(secret, payload, delivery_id="d-1"):
    body = json.dumps(payload).encode()
    now = int(time.time())
    return {"X-Quiver-Timestamp": str(now), "X-Quiver-Signature": sign(secret, now, body), "X-Quiver-Delivery": delivery_id}, body


def test_watcher_unloads_a_moved_alias_once_and_refuses_bad_signatures():
    vllm = FakeUnloadRoute(loaded={"assistant@production"})
    watcher = Watcher(vllm.url)
    secret = "qwh_" + "x" * 40
    headers, body = delivery(secret, {"event": "alias.moved", "ref": "assistant@production", "adapter": "assistant", "version": 2})
    assert watcher.handle_delivery(headers, body, "qwh_" + "y" * 40)[0] == 401
    assert vllm.asked == []
    assert watcher.handle_delivery(headers, body, secret) == (200, "ok")
    assert vllm.asked == ["assistant@production"] and watcher.unloaded == 1
    assert watcher.handle_delivery(headers, body, secret) == (200, "already handled")  # a retry of the same delivery
    headers, body = delivery(secret, {"event": "alias.moved", "ref": "other@production"}, "d-2")
    assert watcher.handle_delivery(headers, body, secret) == (200, "ok")  # not loaded: nothing to do, still a success
    headers, body = delivery(secret, {"event": "version.created", "ref": "assistant@3"}, "d-3")
    assert watcher.handle_delivery(headers, body, secret) == (200, "ok") and vllm.asked[-1] == "other@production"
    vllm.server.shutdown()


def test_watcher_asks_for_a_retry_when_vllm_does_not_answer():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    watcher = Watcher(f"http://127.0.0.1:{port}")
    secret = "qwh_" + "x" * 40
    headers, body = delivery(secret, {"event": "alias.moved", "ref": "assistant@production"})
    status, _ = watcher.handle_delivery(headers, body, secret)
    assert status == 503  # Quiver retries with backoff
    assert "d-1" not in watcher.seen

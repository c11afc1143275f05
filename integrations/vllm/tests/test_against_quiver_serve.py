"""The resolver's registry side against a real `quiver serve` (no vLLM): resolve, download into the digest-keyed
cache, re-verify and heal a corrupted cache, refuse, and never show the token.

Needs the test services (scripts/services: .services/postgres.env, .services/s3.env) and a built quiver
(QUIVER_BIN, else .build/debug/quiver); skipped without them."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from quiver_vllm.client import ClientSettings
from quiver_vllm.errors import BaseModelMismatch, RegistryRefused
from quiver_vllm.resolver import ResolverSettings, QuiverResolution

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GOLDEN = os.path.join(REPO, "Tests", "Fixtures", "peft-golden", "adapters")


def read_env(path):
    values = {}
    with open(path) as handle:
        for line in handle:
            if line.startswith("export ") and "=" in line:
                key, value = line[len("export "):].strip().split("=", 1)
                values[key] = value.strip("'\"")
    return values


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    quiver = os.environ.get("QUIVER_BIN") or os.path.join(REPO, ".build", "debug", "quiver")
    services = os.path.join(REPO, ".services")
    if not os.access(quiver, os.X_OK) or not os.path.exists(os.path.join(services, "s3.env")):
        pytest.skip("no built quiver or no test services (scripts/services/*.sh start)")
    pg, s3 = read_env(os.path.join(services, "postgres.env")), read_env(os.path.join(services, "s3.env"))
    database = "quiver_vllm_py_" + uuid.uuid4().hex[:8]
    subprocess.run(["psql", pg["QUIVER_TEST_DATABASE_URL"], "-qc", f"CREATE DATABASE {database}"], check=True)
    env = dict(os.environ, QUIVER_DATABASE_URL=pg["QUIVER_TEST_DATABASE_URL"].rsplit("/", 1)[0] + "/" + database,
               QUIVER_BLOB_STORE=f"s3://{s3['QUIVER_TEST_S3_BUCKET']}/py-{uuid.uuid4().hex[:8]}", QUIVER_ACTOR="pytest",
               AWS_ACCESS_KEY_ID=s3["QUIVER_TEST_S3_ACCESS_KEY"], AWS_SECRET_ACCESS_KEY=s3["QUIVER_TEST_S3_SECRET_KEY"],
               AWS_REGION=s3.get("QUIVER_TEST_S3_REGION", "us-east-1"), AWS_ENDPOINT_URL_S3=s3["QUIVER_TEST_S3_ENDPOINT"])
    for key in ("QUIVER_SERVER", "QUIVER_TOKEN", "QUIVER_TOKEN_FILE"):
        env.pop(key, None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([quiver, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        run = lambda *argv: subprocess.run([quiver, *argv], env=env, check=True, capture_output=True, text=True).stdout
        token = run("token", "create", "--name", "reader", "--scope", "read").strip()
        run("register", os.path.join(GOLDEN, "a1"), "--name", "assistant")
        run("register", os.path.join(GOLDEN, "a2"), "--name", "assistant")
        run("alias", "set", "assistant", "production", "2")
        yield url, token
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run(["psql", pg["QUIVER_TEST_DATABASE_URL"], "-qc", f"DROP DATABASE IF EXISTS {database}"])


def test_resolves_downloads_verifies_and_heals_the_cache(registry, tmp_path):
    url, token = registry
    settings = ResolverSettings(base_models=("quiver-fixtures/tiny-llama",), cache_dir=str(tmp_path / "cache"))
    resolution = QuiverResolution(ClientSettings(server=url, token=token), settings)
    name, int_id, path, version = resolution.resolve("/models/tiny", "assistant@production")
    digest = version["canonicalDigest"]["hex"]
    assert version["version"] == 2 and name == f"assistant@2+sha256:{digest[:16]}" and int_id >= 1
    assert path == str(tmp_path / "cache" / digest)
    assert sorted(os.listdir(path)) == ["adapter_config.json", "adapter_model.safetensors", "quiver.json"]
    with open(os.path.join(GOLDEN, "a2", "adapter_model.safetensors"), "rb") as a, open(os.path.join(path, "adapter_model.safetensors"), "rb") as b:
        assert a.read() == b.read()
    assert json.load(open(tmp_path / "cache" / "resolved.json"))["assistant@production"]["canonical_digest"] == digest
    assert not [n for n in os.listdir(tmp_path / "cache") if n.startswith(".download-")], "no scratch left behind"

    # The same version by number and by digest: the same directory, no second download.
    assert resolution.resolve("/models/tiny", "assistant@2")[2] == path
    assert resolution.resolve("/models/tiny", f"sha256:{digest}")[2] == path

    # A cached file changed on disk is noticed and replaced by verified bytes.
    with open(os.path.join(path, "adapter_model.safetensors"), "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    assert resolution.resolve("/models/tiny", "assistant@production")[2] == path
    with open(os.path.join(GOLDEN, "a2", "adapter_model.safetensors"), "rb") as a, open(os.path.join(path, "adapter_model.safetensors"), "rb") as b:
        assert a.read() == b.read()


def test_unknown_names_are_left_to_vllm_and_refusals_are_named(registry, tmp_path):
    url, token = registry
    resolution = QuiverResolution(ClientSettings(server=url, token=token), ResolverSettings(cache_dir=str(tmp_path)))
    assert resolution.resolve("/models/tiny", "nobody@production") is None
    assert resolution.resolve("/models/tiny", "assistant@staging") is None
    assert resolution.resolve("/models/tiny", "/models/tiny") is None  # the base model's own name is not a reference
    with pytest.raises(BaseModelMismatch):
        resolution.resolve("/models/tiny", "assistant@1")
    assert os.listdir(tmp_path) == [], "nothing downloaded for a refused adapter"


def test_a_bad_token_is_refused_without_showing_it(registry, tmp_path):
    url, _ = registry
    secret = "qvr_" + "z" * 43
    resolution = QuiverResolution(ClientSettings(server=url, token=secret), ResolverSettings(base_models=("*",), cache_dir=str(tmp_path)))
    with pytest.raises(RegistryRefused) as refused:
        resolution.resolve("/models/tiny", "assistant@production")
    assert "401" in str(refused.value) and secret not in str(refused.value) and secret not in repr(resolution.api.settings)

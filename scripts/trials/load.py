"""Load trial: 16 clients registering, merging, promoting and pulling through `quiver serve` for a while.

Checks what concurrency must not break: no deadlock (every client finishes, no request exceeds its timeout), no
duplicate version (each name's versions are distinct numbers, one per content), no lost alias update (every
successful alias move is in the alias history, whose entries chain previous -> version without a gap, and the
alias ends where its last move put it), and `fsck` stays clean. Reports operations per second and latency
percentiles per operation.
"""
import hashlib
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse

from trials import free_port, hexdigest, make_adapter  # noqa: E402

NAMES = [f"load/adapter-{k}" for k in range(6)]
ALIASES = ["staging", "production"]


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


class Client:
    def __init__(self, port, token, timeout=60):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            h = {"Authorization": f"Bearer {self.token}"}
            h.update(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            try:
                self.conn.request(method, path, body=body, headers=h)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


def adapter_bytes(work, seed):
    directory = make_adapter(os.path.join(work, f"load-{seed}"), seed, layers=2)
    config = open(os.path.join(directory, "adapter_config.json"), "rb").read()
    weights = open(os.path.join(directory, "adapter_model.safetensors"), "rb").read()
    for f in os.listdir(directory):
        os.remove(os.path.join(directory, f))
    os.rmdir(directory)
    return config, weights


def run(h, tally, seconds=30, clients=16):
    started = time.monotonic()
    port = free_port()
    token = h.must(["token", "create", "--name", f"load-{h.next_seed()}", "--scope", "admin"]).out.strip()
    log = open(os.path.join(h.out, "server.log"), "w")
    server = subprocess.Popen([h.quiver, "serve", "--port", str(port), "--threads", "8", "--workers", "1"],
                              env=h.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    problems = []
    try:
        probe = Client(port, token, timeout=5)
        for _ in range(100):
            try:
                if probe.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                probe.conn = None
            time.sleep(0.1)
        # Seed every name with a first version so merges and promotions have something to work on.
        seed_client = Client(port, token)
        for name in NAMES:
            status, body = register(seed_client, h, name)
            if status not in (200, 201):
                problems.append(f"seeding {name}: {status} {body[:300]!r}")
        stop = time.monotonic() + seconds
        lock = threading.Lock()
        latencies = {"register": [], "merge": [], "promote": [], "pull": []}
        errors, registered, moves = [], [], []

        def worker(index):
            rng = random.Random(index * 7919 + h.seed)
            client = Client(port, token)
            while time.monotonic() < stop:
                op = rng.choices(["register", "merge", "promote", "pull"], weights=[3, 1, 3, 3])[0]
                name = rng.choice(NAMES)
                t = time.monotonic()
                try:
                    if op == "register":
                        status, body = register(client, h, name)
                        ok = status in (200, 201)
                        if ok:
                            v = json.loads(body)["version"]
                            with lock:
                                registered.append((v["name"], v["version"], hexdigest(v["canonicalDigest"])))
                    elif op == "merge":
                        other = rng.choice([n for n in NAMES if n != name])
                        w = [round(rng.uniform(0.1, 0.9), 4), round(rng.uniform(0.1, 0.9), 4)]
                        status, body = client.request("POST", "/v1/merges", {
                            "inputs": [name, other], "into": "load/merged", "method": "linear", "weights": w})
                        ok = status in (200, 201)
                    elif op == "promote":
                        status, body = client.request("GET", f"/v1/versions?name={urllib.parse.quote(name, safe='')}&limit=50")
                        ok = status == 200
                        if ok:
                            items = json.loads(body)
                            items = items if isinstance(items, list) else items.get("versions", [])
                            if items:
                                version = rng.choice(items)["version"]
                                alias = rng.choice(ALIASES)
                                status, body = client.request(
                                    "PUT", f"/v1/adapters/{urllib.parse.quote(name, safe='')}/aliases/{alias}",
                                    {"version": version, "force": True})
                                ok = status == 200
                                if ok:
                                    with lock:
                                        moves.append((name, alias, version, json.loads(body).get("previousVersion")))
                    else:
                        ref = urllib.parse.quote(f"{name}@{rng.choice(['1', 'staging', 'production'])}", safe="")
                        status, body = client.request("GET", f"/v1/versions/{ref}")
                        ok = status == 200 or status == 404  # an alias not set yet is a fine answer
                        if status == 200:
                            v = json.loads(body)
                            v = v.get("version", v)
                            digest = hexdigest(v["weightsDigest"])
                            status, blob = client.request("GET", f"/v1/blobs/{digest}")
                            ok = status == 200 and hashlib.sha256(blob).hexdigest() == digest
                except Exception as error:  # a timeout here is a hang
                    ok, status, body = False, 0, repr(error).encode()
                    client.conn = None
                elapsed = time.monotonic() - t
                with lock:
                    latencies[op].append(elapsed)
                    if not ok:
                        errors.append(f"{op} {name}: {status} {body[:200]!r}")

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 120)
        stuck = [t for t in threads if t.is_alive()]
        total_ops = sum(len(v) for v in latencies.values())
        if stuck:
            problems.append(f"{len(stuck)} client(s) still running {seconds + 120} s after the end: deadlock")
        if errors:
            problems += [f"{len(errors)} failed request(s), first: {errors[:5]}"]

        # No duplicate version: every successful register answered a distinct (name, version) per content.
        seen = {}
        for name, version, digest in registered:
            if seen.setdefault((name, version), digest) != digest:
                problems.append(f"duplicate version {name}@{version}")
        # No lost alias update, history complete: the catalog's alias events, through the owner's connection.
        rows = psql_rows(h, """
            SELECT a.name, e.alias, pv.version, v.version FROM alias_events e
            JOIN adapters a ON a.id = e.adapter_id JOIN adapter_versions v ON v.id = e.version_id
            LEFT JOIN adapter_versions pv ON pv.id = e.previous_version_id
            WHERE a.name LIKE 'load/%' ORDER BY e.id""")
        history = {}
        for name, alias, previous, version in rows:
            history.setdefault((name, alias), []).append((None if previous == "" else int(previous), int(version)))
        current = {(n, a): int(v) for n, a, v in psql_rows(h, """
            SELECT a.name, al.alias, v.version FROM aliases al JOIN adapters a ON a.id = al.adapter_id
            JOIN adapter_versions v ON v.id = al.version_id WHERE a.name LIKE 'load/%'""")}
        by_alias = {}
        for name, alias, version, previous in moves:
            by_alias.setdefault((name, alias), []).append(version)
        for key, versions in by_alias.items():
            events = history.get(key, [])
            if len(events) != len(versions):
                problems.append(f"{key}: {len(versions)} successful moves but {len(events)} history rows")
            for (p1, v1), (p2, v2) in zip(events, events[1:]):
                if p2 != v1:
                    problems.append(f"{key}: history breaks: ->{v1} then {p2}->{v2}")
            if events and events[0][0] is not None:
                problems.append(f"{key}: first history row has a previous version {events[0]}")
            if events and current.get(key) != events[-1][1]:
                problems.append(f"{key}: alias at {current.get(key)} but history ends at {events[-1][1]}")
        violations, _ = h.fsck()
        problems += violations

        wall = seconds
        lines = [f"load: {clients} clients, {wall} s, {total_ops} operations, {total_ops / wall:.1f} ops/s; "
                 f"{len(registered)} registers, {len(moves)} alias moves, {len(errors)} errors"]
        lines.append("| operation | count | ops/s | p50 ms | p95 ms | p99 ms | max ms |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for op, values in latencies.items():
            lines.append(f"| {op} | {len(values)} | {len(values) / wall:.1f} | {percentile(values, 50) * 1000:.0f} | "
                         f"{percentile(values, 95) * 1000:.0f} | {percentile(values, 99) * 1000:.0f} | "
                         f"{(max(values) if values else 0) * 1000:.0f} |")
        report = "\n".join(lines)
        print(report, flush=True)
        with open(os.path.join(h.out, "load.md"), "w") as f:
            f.write(report + "\n")
        outcome = f"{total_ops / wall:.1f} ops/s, {len(moves)} alias moves, {len(registered)} registers"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            problems.append("the server did not stop within 30 s of SIGTERM")
        log.close()
    tally.add("load: 16 clients through quiver serve", time.monotonic() - started, violations=len(problems),
              outcome=outcome, note="; ".join(problems)[:3000])


def register(client, h, name):
    config, weights = adapter_bytes(h.work, h.next_seed())
    digests = []
    for data in (config, weights):
        digest = hashlib.sha256(data).hexdigest()
        status, _ = client.request("HEAD", f"/v1/blobs/{digest}")
        if status != 200:
            status, body = client.request("PUT", f"/v1/blobs/{digest}", data,
                                          {"Content-Length": str(len(data)), "Content-Type": "application/octet-stream"})
            if status not in (200, 201):
                return status, body
        digests.append(digest)
    return client.request("POST", "/v1/versions", {"name": name, "config_sha256": digests[0], "weights_sha256": digests[1]})


def psql_rows(h, sql):
    r = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", "-d", os.environ["TRIALS_OWNER_URL"], "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed: {r.stderr[-300:]}")
    return [line.split("\t") for line in r.stdout.splitlines() if line]

#!/usr/bin/env python3
"""Quiver's crash, fault and load trials (issue 12). Run through scripts/trials.sh, which starts the services.

Every trial drives the release `quiver` binary against a private PostgreSQL and SeaweedFS, breaks something on
purpose (kill -9 of a command or of PostgreSQL, S3 stopped, a silent S3 endpoint, a corrupted object, a full disk),
then checks the registry's promises: `quiver fsck --json` finds no violation, a command that reported success is
fully present, one that did not left nothing referenced or finishes when re-run, nothing half-written is left at a
destination, and no command hangs (every command runs under a deadline; passing it counts as a hang).

Results go to OUT/results.json and a table on stdout; every command's output is kept in OUT/commands.log, which
the secrets check greps (with the service logs) for the database passwords and the S3 secret key.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lora_layout import write_adapter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROXY = os.path.join(ROOT, "scripts", "trials", "tcp_proxy.py")
HANG_SECONDS = 180  # a command still running after this is a hang (the bounded ones finish far sooner)


# ----------------------------------------------------------------------------------------------------------------
# Adapters

FINITE = bytes((b & 0x81) | 0x3C for b in range(256))  # sign + low exponent bit kept: |x| in [2^-7, 2^-5)


def make_adapter(directory, seed, layers=8, hidden=1024, rank=16):
    """A PEFT LoRA directory with `layers` x 4 projections of random finite F32 factors (same shape for every
    seed, so any two merge), about layers * 0.5 MiB at the defaults."""
    def finite_random(_, total):
        body = bytearray(random.Random(seed).randbytes(total))
        body[3::4] = bytes(body[3::4]).translate(FINITE)
        yield bytes(body)
    write_adapter(directory, layers, hidden, rank, "trials/llama-1024", finite_random)
    return directory


def hexdigest(value):
    """A digest as the JSON output carries it ({"hex": …}), or a plain string."""
    return value["hex"] if isinstance(value, dict) else str(value).removeprefix("sha256:")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------------------
# Running quiver


class Result:
    def __init__(self, args, rc, out, err, seconds, killed=False, hung=False):
        self.args, self.rc, self.out, self.err, self.seconds, self.killed, self.hung = args, rc, out, err, seconds, killed, hung

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return None

    def error_code(self):
        """The named error's code: from --json's body, else stderr's `error: CODE: …`."""
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"].get("code")
        for line in self.err.splitlines():
            if line.startswith("error: "):
                return line[7:].split(":", 1)[0]
        return None

    def __repr__(self):
        return f"quiver {' '.join(self.args)} -> rc={self.rc} {self.seconds:.2f}s out={self.out[-300:]!r} err={self.err[-400:]!r}"


class Harness:
    def __init__(self, quiver, out, env):
        self.quiver, self.out, self.env = quiver, out, env
        self.log = open(os.path.join(out, "commands.log"), "a")
        self.lock = threading.Lock()
        self.work = os.path.join(out, "work")
        os.makedirs(self.work, exist_ok=True)
        self.tmp = os.path.join(out, "tmp")  # TMPDIR of every quiver process: its merge scratch lands here
        os.makedirs(self.tmp, exist_ok=True)
        self.env["TMPDIR"] = self.tmp
        self.seed = 1000

    def next_seed(self):
        with self.lock:
            self.seed += 1
            return self.seed

    def record(self, result):
        with self.lock:
            self.log.write(f"$ quiver {' '.join(result.args)}  # rc={result.rc} {result.seconds:.2f}s"
                           f"{' KILLED' if result.killed else ''}{' HUNG' if result.hung else ''}\n")
            if result.out:
                self.log.write(result.out if result.out.endswith("\n") else result.out + "\n")
            if result.err:
                self.log.write(result.err if result.err.endswith("\n") else result.err + "\n")
            self.log.flush()

    def start(self, args, env=None):
        merged = dict(self.env, **(env or {}))
        return subprocess.Popen([self.quiver] + args, env=merged, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")

    def finish(self, args, proc, started, kill_after=None, timeout=HANG_SECONDS):
        """Waits for `proc`; kill -9 it after `kill_after` seconds if it is still running then."""
        killed = hung = False
        if kill_after is not None:
            try:
                proc.wait(timeout=max(0.0, kill_after - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                killed = True
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate()
            hung = True
        result = Result(args, proc.returncode, out, err, time.monotonic() - started, killed, hung)
        self.record(result)
        return result

    def run(self, args, env=None, timeout=HANG_SECONDS, kill_after=None):
        started = time.monotonic()
        return self.finish(args, self.start(args, env), started, kill_after=kill_after, timeout=timeout)

    def must(self, args, env=None):
        result = self.run(args, env)
        if result.rc != 0:
            raise TrialError(f"set-up command failed: {result!r}")
        return result

    # -- registry state

    def fsck(self, deep=False):
        """Violations found by `quiver fsck --json` (a failure to run counts as one)."""
        result = self.run(["fsck", "--json"] + (["--deep"] if deep else []))
        report = result.json()
        if not isinstance(report, dict) or "violations" not in report:
            return [f"fsck did not report: {result!r}"], result
        return report["violations"], result

    def version(self, ref):
        """The version's JSON, or None when `show` says not found (exit 3)."""
        result = self.run(["show", ref, "--json"])
        if result.rc == 3:
            return None
        if result.rc != 0:
            raise TrialError(f"show {ref} failed: {result!r}")
        body = result.json()
        return body.get("version", body) if isinstance(body, dict) else None

    def snapshot(self):
        """(versions, blob keys) for 'catalog and bucket unchanged' checks."""
        listed = self.run(["list", "--json"])
        body = listed.json()
        items = body if isinstance(body, list) else (body or {}).get("versions", [])
        versions = sorted(f"{v.get('name')}@{v.get('version')}" for v in items)
        blobs = self.run(["blob", "ls"])
        keys = sorted(line.split()[0] for line in blobs.out.splitlines() if line.startswith("sha256/"))
        return versions, keys


class TrialError(Exception):
    pass


# ----------------------------------------------------------------------------------------------------------------
# Trial bookkeeping


class Tally:
    def __init__(self):
        self.kinds = {}
        self.failures = []

    def add(self, kind, seconds, violations=0, hung=False, outcome="", note=""):
        entry = self.kinds.setdefault(kind, {"trials": 0, "violations": 0, "hangs": 0, "seconds": 0.0, "outcomes": {}})
        entry["trials"] += 1
        entry["violations"] += violations
        entry["hangs"] += 1 if hung else 0
        entry["seconds"] += seconds
        if outcome:
            entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + 1
        if violations or hung:
            self.failures.append(f"{kind}: {note}")
            print(f"  FAIL {kind}: {note}", flush=True)

    def table(self):
        lines = ["| trial | trials | violations | hangs | time (s) | outcomes |", "| --- | ---: | ---: | ---: | ---: | --- |"]
        for kind, e in self.kinds.items():
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(e["outcomes"].items()))
            lines.append(f"| {kind} | {e['trials']} | {e['violations']} | {e['hangs']} | {e['seconds']:.0f} | {outcomes} |")
        return "\n".join(lines)


def check(tally, kind, started, problems, hung=False, outcome=""):
    tally.add(kind, time.monotonic() - started, violations=len(problems), hung=hung, outcome=outcome,
              note="; ".join(str(p) for p in problems)[:2000])


# ----------------------------------------------------------------------------------------------------------------
# Crash trials: kill -9 of a command at a random moment


def baseline(h, args_for, runs=2):
    """Seconds an uninterrupted run of the command takes (the window kills are drawn from)."""
    times = []
    for _ in range(runs):
        args = args_for()
        r = h.run(args)
        if r.rc != 0:
            raise TrialError(f"baseline run failed: {r!r}")
        times.append(r.seconds)
    return max(times)


def present_and_whole(h, ref):
    """Problems if `ref` is not fully present: its blobs are checked by a verified pull."""
    target = os.path.join(h.work, f"check-{random.getrandbits(40):x}")
    r = h.run(["pull", ref, "--output", target])
    problems = [] if r.rc == 0 else [f"{ref} reported but not pullable: {r!r}"]
    shutil.rmtree(target, ignore_errors=True)
    return problems


def crash_register(h, tally, n):
    kind = "crash: kill -9 register"
    mk = lambda: make_adapter(os.path.join(h.work, f"reg-{h.next_seed()}"), h.seed)
    window = baseline(h, lambda: ["register", mk(), "--name", f"reg-base-{h.seed}"])
    for i in range(n):
        started = time.monotonic()
        name, directory = f"crash-reg-{i}-{h.next_seed()}", None
        directory = make_adapter(os.path.join(h.work, name), h.seed)
        r = h.run(["register", directory, "--name", name], kill_after=random.uniform(0, window * 1.2))
        problems, outcome = [], ""
        if not r.killed:
            outcome = "completed"
            if r.rc != 0:
                problems.append(f"register failed without a kill: {r!r}")
        found = h.version(f"{name}@1")
        if r.killed:
            outcome = "killed after commit" if found else "killed before commit"
        if found or (not r.killed and r.rc == 0):
            problems += present_and_whole(h, f"{name}@1")
        else:
            again = h.run(["register", directory, "--name", name])
            if again.rc != 0:
                problems.append(f"re-run did not finish: {again!r}")
            else:
                problems += present_and_whole(h, f"{name}@1")
        violations, _ = h.fsck()
        problems += violations
        check(tally, kind, started, problems, hung=r.hung, outcome=outcome)
        shutil.rmtree(directory, ignore_errors=True)


def ensure_inputs(h, count=2, layers=8):
    names = []
    for k in range(count):
        name = f"input-{layers}-{k}"
        if h.version(name) is None:
            h.must(["register", make_adapter(os.path.join(h.work, name), 77 + k + layers * 10, layers=layers), "--name", name])
        names.append(name)
    return names


def merge_args(into, inputs):
    w = [round(random.uniform(0.1, 0.9), 6) for _ in inputs]
    return ["merge", "--method", "linear", "--weights", ",".join(str(x) for x in w), "--into", into] + inputs


def scratch_left(h):
    return [n for n in os.listdir(h.tmp) if n.startswith("quiver-")]


def crash_merge(h, tally, n):
    kind = "crash: kill -9 merge"
    inputs = ensure_inputs(h)
    window = baseline(h, lambda: merge_args(f"merge-base-{h.next_seed()}", inputs))
    for i in range(n):
        started = time.monotonic()
        into = f"crash-merge-{i}-{h.next_seed()}"
        args = merge_args(into, inputs)
        r = h.run(args, kill_after=random.uniform(0, window * 1.2))
        problems, outcome = [], "completed"
        if not r.killed and r.rc != 0:
            problems.append(f"merge failed without a kill: {r!r}")
        found = h.version(f"{into}@1")
        if r.killed:
            outcome = "killed after commit" if found else "killed before commit"
        if not found and not (not r.killed and r.rc == 0):
            again = h.run(args)
            if again.rc != 0:
                problems.append(f"re-run did not finish: {again!r}")
        problems += present_and_whole(h, f"{into}@1")
        violations, _ = h.fsck()
        problems += violations
        check(tally, kind, started, problems, hung=r.hung, outcome=outcome)
    # A killed merge's scratch directory (its downloaded inputs) is removed by the next merge or by gc.
    started = time.monotonic()
    h.run(["gc", "--grace", "24h"])
    left = scratch_left(h)
    check(tally, "crash: scratch left by killed merges, after gc", started,
          [f"scratch directories left: {left}"] if left else [], outcome=f"{len(left)} left")


def crash_worker(h, tally, n):
    kind = "crash: kill -9 worker"
    inputs = ensure_inputs(h)
    lease = ["--lease", "2s", "--poll", "1s"]
    # Baseline: queue one job and time a worker that runs it.
    q = h.must(merge_args(f"job-base-{h.next_seed()}", inputs) + ["--async"])
    window = baseline(h, lambda: ["worker", "--once"] + lease, runs=1)
    for i in range(n):
        started = time.monotonic()
        into = f"crash-job-{i}-{h.next_seed()}"
        q = h.run(merge_args(into, inputs) + ["--async"])
        problems, outcome = [], ""
        job = next((w for w in q.out.replace(";", " ").split() if w.isdigit()), None)
        if q.rc != 0 or job is None:
            check(tally, kind, started, [f"could not queue: {q!r}"])
            continue
        w = h.run(["worker"] + lease, kill_after=random.uniform(0, window * 1.3))
        if not w.killed:
            problems.append(f"worker exited by itself: {w!r}")
        status = (h.run(["job", "show", job]).json() or {}).get("status")
        outcome = f"job {status} at kill"
        deadline = time.monotonic() + 30
        while status not in ("succeeded", "failed") and time.monotonic() < deadline:
            h.run(["worker", "--once"] + lease)  # picks the job up once the dead worker's lease has expired
            status = (h.run(["job", "show", job]).json() or {}).get("status")
            if status not in ("succeeded", "failed"):
                time.sleep(0.5)
        if status != "succeeded":
            problems.append(f"job {job} ended {status} after the worker was killed")
        else:
            problems += present_and_whole(h, f"{into}@1")
        violations, _ = h.fsck()
        problems += violations
        check(tally, kind, started, problems, hung=w.hung, outcome=outcome)


def crash_gc(h, tally, n):
    kind = "crash: kill -9 gc"
    referenced = ensure_inputs(h)
    def make_garbage(count=6):
        for _ in range(count):
            path = os.path.join(h.work, f"garbage-{h.next_seed()}")
            with open(path, "wb") as f:
                f.write(random.Random(h.seed).randbytes(512 * 1024))
            h.must(["blob", "put", path])
            os.remove(path)
    make_garbage()
    window = baseline(h, lambda: (make_garbage(), ["gc", "--grace", "0"])[1], runs=1)
    for i in range(n):
        started = time.monotonic()
        make_garbage()
        r = h.run(["gc", "--grace", "0"], kill_after=random.uniform(0, window * 1.2))
        problems = []
        violations, _ = h.fsck()
        problems += violations
        again = h.run(["gc", "--grace", "0"])
        if again.rc != 0:
            problems.append(f"gc re-run failed: {again!r}")
        dry = h.run(["gc", "--grace", "0", "--dry-run"])
        if not dry.out.startswith("0 blob(s)"):
            problems.append(f"garbage left after the re-run: {dry.out[:300]!r}")
        for name in referenced:
            problems += present_and_whole(h, name)
        check(tally, kind, started, problems, hung=r.hung, outcome="killed" if r.killed else "completed")


def crash_pull(h, tally, n):
    kind = "crash: kill -9 pull"
    name = "pull-source"
    if h.version(name) is None:
        h.must(["register", make_adapter(os.path.join(h.work, name), 4242, layers=48), "--name", name])
    v = h.version(name)
    want = {"adapter_config.json": v["configDigest"], "adapter_model.safetensors": v["weightsDigest"]}
    pulls = os.path.join(h.work, "pulls")
    os.makedirs(pulls, exist_ok=True)
    window = baseline(h, lambda: ["pull", name, "--output", os.path.join(pulls, f"base-{h.next_seed()}")])
    for i in range(n):
        started = time.monotonic()
        dest = os.path.join(pulls, f"p-{i}")
        # A wider window than the others: a pull's own time varies most (page cache), and some must complete.
        r = h.run(["pull", name, "--output", dest], kill_after=random.uniform(0, window * 2.0))
        problems = []

        def whole():
            if not os.path.isdir(dest):
                return [f"{dest} missing"]
            got = {f: sha256_file(os.path.join(dest, f)) for f in os.listdir(dest)}
            return [] if got == {k: hexdigest(v) for k, v in want.items()} else [f"{dest} incomplete or wrong: {got}"]

        if os.path.exists(dest):
            problems += whole()  # a destination that exists is complete, whatever the moment of the kill
            outcome = "complete at kill" if r.killed else "completed"
        else:
            outcome = "absent at kill"
            if not r.killed:
                problems.append(f"pull neither failed nor wrote: {r!r}")
            again = h.run(["pull", name, "--output", dest])
            if again.rc != 0:
                problems.append(f"re-run failed: {again!r}")
            problems += whole()
        leftovers = [x for x in os.listdir(pulls) if x.startswith(f".p-{i}.tmp-")]
        if leftovers:
            problems.append(f"temporary siblings left after the re-run: {leftovers}")
        shutil.rmtree(dest, ignore_errors=True)
        check(tally, kind, started, problems, hung=r.hung, outcome=outcome)


# ----------------------------------------------------------------------------------------------------------------
# PostgreSQL killed or restarted under a command


class Services:
    def __init__(self, pg_dir, s3_dir):
        self.pg_dir, self.s3_dir = pg_dir, s3_dir

    def pg_env(self):
        env = dict(os.environ, QUIVER_PG_SERVICE_DIR=self.pg_dir)
        return env

    def pg_kill9(self):
        data = self.read_env(os.path.join(self.pg_dir, "postgres.env"))["QUIVER_TEST_PGDATA"]
        with open(os.path.join(data, "postmaster.pid")) as f:
            pid = int(f.readline())
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
        for p in [pid] + [int(c) for c in children]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def pg_restart(self):
        for attempt in range(20):
            r = subprocess.run(["bash", os.path.join(ROOT, "scripts/services/postgres.sh"), "restart"], env=self.pg_env(),
                               capture_output=True, text=True)
            if r.returncode == 0:
                return
            time.sleep(0.5)
        raise TrialError(f"postgres did not restart: {r.stderr[-500:]}")

    def s3(self, action):
        env = dict(os.environ, QUIVER_S3_SERVICE_DIR=self.s3_dir)
        r = subprocess.run(["bash", os.path.join(ROOT, "scripts/services/seaweedfs.sh"), action], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise TrialError(f"seaweedfs {action} failed: {r.stderr[-500:]}")

    @staticmethod
    def read_env(path):
        values = {}
        with open(path) as f:
            for line in f:
                if line.startswith("export ") and "=" in line:
                    k, v = line[7:].strip().split("=", 1)
                    values[k] = v
        return values


def pg_kill_trials(h, svc, tally, n):
    inputs = ensure_inputs(h)
    for what in ("register", "merge"):
        kind = f"crash: kill -9 PostgreSQL during {what}"
        for i in range(n):
            started = time.monotonic()
            if what == "register":
                name = f"pgkill-reg-{i}-{h.next_seed()}"
                args = ["register", make_adapter(os.path.join(h.work, name), h.seed, layers=24), "--name", name]
            else:
                name = f"pgkill-merge-{i}-{h.next_seed()}"
                args = merge_args(name, inputs)
            t0 = time.monotonic()
            proc = h.start(args)
            time.sleep(random.uniform(0.05, 0.6))
            svc.pg_kill9()
            time.sleep(random.uniform(0.2, 2.0))
            svc.pg_restart()
            r = h.finish(args, proc, t0)
            problems = []
            if r.rc == 0:
                outcome = "succeeded across the crash"
            else:
                code = r.error_code() or ""
                outcome = f"named error {code}"
                if not code:
                    problems.append(f"failed without a named error: {r!r}")
                again = h.run(args)
                if again.rc != 0:
                    problems.append(f"re-run failed: {again!r}")
            problems += present_and_whole(h, f"{name}@1")
            violations, _ = h.fsck()
            problems += violations
            check(tally, kind, started, problems, hung=r.hung, outcome=outcome)


# ----------------------------------------------------------------------------------------------------------------
# gc --grace 0 racing registers and merges of new content: the fence


def gc_fence(h, tally, seconds):
    kind = "race: gc --grace 0 vs registers and merges"
    started = time.monotonic()
    inputs = ensure_inputs(h)
    stop = time.monotonic() + seconds
    done, problems, counts = [], [], {"register": 0, "merge": 0, "gc": 0, "gc_deleted": 0, "failed": 0}
    lock = threading.Lock()

    def registrar(tag):
        while time.monotonic() < stop:
            name = f"fence-{tag}-{h.next_seed()}"
            directory = make_adapter(os.path.join(h.work, name), h.seed, layers=4)
            if random.random() < 0.5:
                # The content's blobs are in the store first, unreferenced (as a killed register leaves them) and so
                # fair game for gc --grace 0: the register finds them present, skips the upload and commits a
                # reference; the fence must keep gc from deleting them between that check and the commit.
                for f in ("adapter_config.json", "adapter_model.safetensors"):
                    h.run(["blob", "put", os.path.join(directory, f)])
            r = h.run(["register", directory, "--name", name])
            with lock:
                if r.rc == 0:
                    done.append(f"{name}@1"); counts["register"] += 1
                else:
                    counts["failed"] += 1; problems.append(f"register failed: {r!r}")
            shutil.rmtree(os.path.join(h.work, name), ignore_errors=True)

    def merger():
        while time.monotonic() < stop:
            into = f"fence-merge-{h.next_seed()}"
            r = h.run(merge_args(into, inputs))
            with lock:
                if r.rc == 0:
                    done.append(f"{into}@1"); counts["merge"] += 1
                else:
                    counts["failed"] += 1; problems.append(f"merge failed: {r!r}")

    def collector():
        while time.monotonic() < stop:
            r = h.run(["gc", "--grace", "0"])
            with lock:
                counts["gc"] += 1
                if r.rc == 0:
                    summary = next((line for line in r.out.splitlines() if line.endswith("referenced")), "")
                    first = summary.split(" ", 1)[0]
                    counts["gc_deleted"] += int(first) if first.isdigit() else 0
                elif r.error_code() != "registry.gc_busy":
                    problems.append(f"gc failed: {r!r}")

    threads = [threading.Thread(target=registrar, args=(t,)) for t in ("a", "b")]
    threads += [threading.Thread(target=merger), threading.Thread(target=collector)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    violations, _ = h.fsck(deep=True)
    problems += violations
    for ref in done:
        if h.version(ref) is None:
            problems.append(f"{ref} reported success but is missing")
    check(tally, kind, started, problems,
          outcome=f"{counts['register']} registers, {counts['merge']} merges, {counts['gc']} gc runs deleting {counts['gc_deleted']} blobs")
    return counts


# ----------------------------------------------------------------------------------------------------------------
# Fault trials


def s3_object_url(env, key):
    endpoint = env["AWS_ENDPOINT_URL_S3"].rstrip("/")
    bucket, _, prefix = env["QUIVER_BLOB_STORE"][5:].partition("/")
    return f"{endpoint}/{bucket}/{prefix + '/' if prefix else ''}{key}"


def s3_put_raw(env, key, data):
    """Overwrites an object behind Quiver's back (curl's own SigV4; the secret goes in a file, not argv)."""
    digest = hashlib.sha256(data).hexdigest()
    with tempfile.NamedTemporaryFile("wb", delete=False) as body:
        body.write(data)
    with tempfile.NamedTemporaryFile("w", delete=False) as cfg:
        cfg.write(f'user = "{env["AWS_ACCESS_KEY_ID"]}:{env["AWS_SECRET_ACCESS_KEY"]}"\n')
    try:
        r = subprocess.run(["curl", "-sS", "-K", cfg.name, "--aws-sigv4", f"aws:amz:{env['AWS_REGION']}:s3", "-X", "PUT",
                            "-H", f"x-amz-content-sha256: {digest}", "--data-binary", f"@{body.name}",
                            "-o", "/dev/null", "-w", "%{http_code}", s3_object_url(env, key)],
                           capture_output=True, text=True)
    finally:
        os.unlink(body.name)
        os.unlink(cfg.name)
    if r.stdout.strip() != "200":
        raise TrialError(f"raw PUT of {key} answered {r.stdout} {r.stderr[-200:]}")


def fault_s3_restart(h, svc, tally, rounds, upload=True):
    """SeaweedFS killed and started again while an upload (register) or a download (pull) runs."""
    kind = f"fault: SeaweedFS killed and restarted mid-{'upload' if upload else 'download'}"
    # A whole `weed server` takes 15-25 s to answer again on this machine, longer than the default 30 s window
    # leaves room for once the kill lands; the trial widens it (QUIVER_S3_RETRY_SECONDS), as an operator would.
    env = {"QUIVER_S3_RETRY_SECONDS": "120"}
    for i in range(rounds):
        started = time.monotonic()
        name = f"s3restart-{'up' if upload else 'down'}-{i}-{h.next_seed()}"
        source = make_adapter(os.path.join(h.work, name), h.seed, layers=160)  # 80 MiB: a multipart upload
        if not upload:
            h.must(["register", source, "--name", name])
        before = h.snapshot()
        dest = os.path.join(h.work, name + "-pulled")
        args = ["register", source, "--name", name] if upload else ["pull", name, "--output", dest]
        t0 = time.monotonic()
        proc = h.start(args, env)
        time.sleep(random.uniform(0.1, 0.8))
        svc.s3("pause")
        time.sleep(2)
        svc.s3("resume")
        r = h.finish(args, proc, t0)
        problems = []
        if r.rc == 0:
            outcome = "succeeded after retries"
        else:
            code = r.error_code()
            outcome = f"named error {code}"
            if not code:
                problems.append(f"no named error: {r!r}")
            after = h.snapshot()
            if upload and after[0] != before[0]:
                problems.append("the catalog changed although the register failed")
            if not upload and os.path.exists(dest):
                problems.append("a failed pull left its destination")
        if upload:
            if r.rc != 0:
                again = h.run(args)
                if again.rc != 0:
                    problems.append(f"re-run failed: {again!r}")
            problems += present_and_whole(h, f"{name}@1")
        elif r.rc == 0:
            got = sha256_file(os.path.join(dest, "adapter_model.safetensors"))
            if got != hexdigest(h.version(name)["weightsDigest"]):
                problems.append("pulled weights differ")
        leftovers = [x for x in os.listdir(h.work) if x.startswith(f".{name}-pulled.tmp-")]
        if r.rc == 0 and leftovers:
            problems.append(f"temporary siblings left: {leftovers}")
        violations, _ = h.fsck()
        problems += violations
        shutil.rmtree(dest, ignore_errors=True)
        shutil.rmtree(source, ignore_errors=True)
        check(tally, kind, started, problems, hung=r.hung, outcome=outcome)


def fault_gateway_blip(h, tally, rounds, outage=5.0):
    """The S3 endpoint goes away for `outage` seconds mid-upload (a relay in front of SeaweedFS is killed, cutting
    live connections, and started again): the default retry policy must ride it out (defect 11)."""
    kind = f"fault: S3 gateway away {outage:.0f} s mid-upload (default retries)"
    target = int(h.env["AWS_ENDPOINT_URL_S3"].rsplit(":", 1)[1])
    for i in range(rounds):
        started = time.monotonic()
        port = free_port()
        relay = subprocess.Popen([sys.executable, PROXY, "forward", str(port), str(target), "--lifetime", "300"],
                                 stdout=subprocess.PIPE, text=True)
        relay.stdout.readline()
        env = {"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}"}
        name = f"blip-{i}-{h.next_seed()}"
        source = make_adapter(os.path.join(h.work, name), h.seed, layers=96)
        args = ["register", source, "--name", name]
        t0 = time.monotonic()
        proc = h.start(args, env)
        time.sleep(random.uniform(0.1, 0.5))
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        time.sleep(outage)
        relay = subprocess.Popen([sys.executable, PROXY, "forward", str(port), str(target), "--lifetime", "300"],
                                 stdout=subprocess.PIPE, text=True)
        relay.stdout.readline()
        r = h.finish(args, proc, t0)
        relay.send_signal(signal.SIGTERM)
        relay.wait()
        problems = [] if r.rc == 0 else [f"register did not ride out a {outage} s outage: {r!r}"]
        problems += present_and_whole(h, f"{name}@1")
        violations, _ = h.fsck()
        problems += violations
        shutil.rmtree(source, ignore_errors=True)
        check(tally, kind, started, problems, hung=r.hung, outcome="succeeded after retries" if r.rc == 0 else "failed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fault_silent_endpoint(h, tally, full):
    """An S3 endpoint that accepts connections and never answers: a named timeout error, in bounded time."""
    port = free_port()
    hole = subprocess.Popen([sys.executable, PROXY, "blackhole", str(port), "--lifetime", "900"], stdout=subprocess.PIPE, text=True)
    hole.stdout.readline()
    try:
        source = make_adapter(os.path.join(h.work, "silent-src"), h.next_seed(), layers=4)
        ensure_inputs(h)
        settings = [("short timeouts", {"QUIVER_S3_STALL_TIMEOUT": "3", "QUIVER_S3_RETRY_SECONDS": "8"}, 40)]
        if full:
            settings.append(("default timeouts", {}, 150))
        for label, extra, bound in settings:
            env = dict(extra, AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}")
            before = h.snapshot()
            for what, args in (("register", ["register", source, "--name", "silent"]),
                               ("pull", ["pull", "input-8-0", "--output", os.path.join(h.work, "silent-pull")]),
                               ("merge", merge_args("silent-merge", ["input-8-0", "input-8-1"])),
                               ("blob head", ["blob", "head", "0" * 64])):
                kind = f"fault: silent S3 endpoint, {what} ({label})"
                started = time.monotonic()
                r = h.run(args, env, timeout=bound + 30)
                problems = []
                if r.rc != 4 or r.error_code() != "objectstore.timeout":
                    problems.append(f"expected exit 4 objectstore.timeout: {r!r}")
                if r.seconds > bound:
                    problems.append(f"took {r.seconds:.0f} s, bound {bound} s")
                if os.path.exists(os.path.join(h.work, "silent-pull")):
                    problems.append("the pull left a destination")
                check(tally, kind, started, problems, hung=r.hung, outcome=f"{r.error_code()} in {r.seconds:.0f} s")
            if h.snapshot() != before:
                tally.add("fault: silent S3 endpoint, catalog and bucket unchanged", 0, violations=1, note="changed")
            else:
                tally.add("fault: silent S3 endpoint, catalog and bucket unchanged", 0, outcome="unchanged")
    finally:
        hole.send_signal(signal.SIGTERM)
        hole.wait()


def fault_pg_restart_merge(h, svc, tally, rounds):
    kind = "fault: PostgreSQL restarted mid-merge"
    inputs = ensure_inputs(h, layers=48)
    for i in range(rounds):
        started = time.monotonic()
        into = f"pgrestart-{i}-{h.next_seed()}"
        args = merge_args(into, inputs)
        t0 = time.monotonic()
        proc = h.start(args)
        time.sleep(random.uniform(0.2, 1.5))
        svc.pg_restart()
        r = h.finish(args, proc, t0)
        problems = [] if r.rc == 0 else [f"merge did not survive a restart: {r!r}"]
        problems += present_and_whole(h, f"{into}@1")
        violations, _ = h.fsck()
        problems += violations
        check(tally, kind, started, problems, hung=r.hung, outcome="succeeded" if r.rc == 0 else f"error {r.error_code()}")


def fault_corrupt_object(h, tally):
    inputs = ensure_inputs(h)
    victim = "corrupt-victim"
    if h.version(victim) is None:
        h.must(["register", make_adapter(os.path.join(h.work, victim), 999), "--name", victim])
    v = h.version(victim)
    digest = hexdigest(v["weightsDigest"])
    good = os.path.join(h.work, victim, "adapter_model.safetensors")
    original = open(good, "rb").read()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    for label, data in (("one flipped byte", bytes(flipped)), ("truncated", original[: len(original) // 2])):
        s3_put_raw(h.env, f"sha256/{digest}", data)
        before = h.snapshot()
        dest = os.path.join(h.work, "corrupt-pull")
        cases = [("pull", ["pull", victim, "--output", dest], 1),
                 ("merge", merge_args(f"corrupt-merge-{h.next_seed()}", [victim, inputs[0]]), None),
                 ("verify", ["verify", f"{victim}@1"], 1)]
        for what, args, rc in cases:
            kind = f"fault: object in the bucket {label}, {what}"
            started = time.monotonic()
            r = h.run(args)
            problems = []
            if r.error_code() != "objectstore.corrupt_blob" and not (what == "verify" and r.rc == 1 and digest[:12] in r.out + r.err):
                problems.append(f"not refused by name: {r!r}")
            if rc is not None and r.rc != rc:
                problems.append(f"exit {r.rc}, expected {rc}")
            if r.rc == 0:
                problems.append("succeeded on a corrupted object")
            if os.path.exists(dest):
                problems.append("pull left its destination")
            check(tally, kind, started, problems, hung=r.hung, outcome=f"{r.error_code() or 'mismatch'} exit {r.rc}")
        after = h.snapshot()
        tally.add(f"fault: object in the bucket {label}, catalog and bucket unchanged", 0,
                  violations=0 if after == before else 1, outcome="unchanged" if after == before else "changed",
                  note=f"{before} -> {after}")
        # fsck --deep names it; the hint's remedy (blob put --replace) heals it.
        violations, _ = h.fsck(deep=True)
        started = time.monotonic()
        problems = [] if any(digest in json.dumps(x) for x in violations) else [f"fsck --deep did not name it: {violations}"]
        h.must(["blob", "put", "--replace", good])
        problems += h.fsck(deep=True)[0]
        check(tally, f"fault: object in the bucket {label}, found by fsck --deep and healed", started, problems, outcome="healed")


def mount_small(path, size_mb):
    """A small filesystem at `path`: tmpfs if mount works here, else a loop-mounted ext2 image; None if neither."""
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", path], capture_output=True, text=True)
    if r.returncode == 0:
        return "tmpfs"
    image = path + ".img"
    subprocess.run(["truncate", "-s", f"{size_mb}M", image])
    if subprocess.run(["mkfs.ext2", "-q", "-F", image], capture_output=True).returncode == 0 and \
            subprocess.run(["mount", "-o", "loop", image, path], capture_output=True).returncode == 0:
        return "loop ext2"
    return None


def fault_full_disk(h, tally):
    inputs = ensure_inputs(h, layers=48)  # 24 MiB inputs: neither they nor their merge fit in 8 MiB
    full = os.path.join(h.out, "full")
    how = mount_small(full, 8)
    if how is None:
        tally.add("fault: full disk", 0, outcome="skipped: mount is not permitted here")
        return
    try:
        before = h.snapshot()
        scratch = os.path.join(full, "tmp")
        os.makedirs(scratch, exist_ok=True)
        dest = os.path.join(full, "out")
        cases = [
            ("pull into a full output directory", ["pull", inputs[0], "--output", dest], {}),
            ("merge with a full scratch directory", merge_args(f"full-merge-{h.next_seed()}", inputs), {"TMPDIR": scratch}),
            ("merge-files into a full output directory",
             ["merge-files", "--method", "linear", "--output", dest,
              os.path.join(h.work, inputs[0]), os.path.join(h.work, inputs[1])], {}),
        ]
        for what, args, env in cases:
            kind = f"fault: full disk ({how}), {what}"
            started = time.monotonic()
            r = h.run(args, env)
            problems = []
            if r.rc == 0 or not r.error_code():
                problems.append(f"expected a named error: {r!r}")
            leftovers = [x for x in os.listdir(full) if x not in ("tmp", "lost+found")] + os.listdir(scratch)
            if leftovers:
                problems.append(f"left behind on the full disk: {leftovers}")
            check(tally, kind, started, problems, hung=r.hung, outcome=f"{r.error_code()} exit {r.rc}")
        after = h.snapshot()
        tally.add("fault: full disk, catalog and bucket unchanged", 0, violations=0 if after == before else 1,
                  outcome="unchanged" if after == before else "changed", note=f"{before} -> {after}")
    finally:
        subprocess.run(["umount", full], capture_output=True)
        if os.path.exists(full + ".img"):
            os.remove(full + ".img")


# ----------------------------------------------------------------------------------------------------------------
# Secrets


def secrets_grep(out, secrets, extra_logs, tally):
    hits = []
    paths = []
    for base in [out] + extra_logs:
        if os.path.isfile(base):
            paths.append(base)
        for dirpath, _, files in os.walk(base):
            if "/work" in dirpath[len(out):] or "/tmp" in dirpath[len(out):]:
                continue
            paths += [os.path.join(dirpath, f) for f in files if f.endswith((".log", ".json", ".txt", ".out", ".err"))]
    for path in sorted(set(paths)):
        try:
            text = open(path, "rb").read()
        except OSError:
            continue
        for label, secret in secrets.items():
            if secret and secret.encode() in text:
                hits.append(f"{label} in {path}")
    tally.add("secrets: passwords and S3 secret in all output and logs", 0, violations=len(hits),
              outcome=f"{len(paths)} files grepped, {len(hits)} hits", note="; ".join(hits))


# ----------------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiver", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", choices=["quick", "full"], default="quick")
    parser.add_argument("--only", default="", help="comma-separated: crash,pgkill,fence,fault,load,secrets")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    full = args.mode == "full"
    only = set(filter(None, args.only.split(",")))
    want = lambda part: not only or part in only

    env = dict(os.environ)
    h = Harness(args.quiver, args.out, env)
    svc = Services(os.environ["TRIALS_PG_DIR"], os.environ["TRIALS_S3_DIR"])
    tally = Tally()
    t0 = time.monotonic()
    n = 50 if full else 3
    print(f"trials: mode {args.mode}, seed {seed}, output {args.out}", flush=True)
    steps = [
        ("crash", "register", lambda: crash_register(h, tally, n)),
        ("crash", "merge", lambda: crash_merge(h, tally, n)),
        ("crash", "worker", lambda: crash_worker(h, tally, n)),
        ("crash", "gc", lambda: crash_gc(h, tally, n)),
        ("crash", "pull", lambda: crash_pull(h, tally, n)),
        ("pgkill", "postgres-kill", lambda: pg_kill_trials(h, svc, tally, 10 if full else 2)),
        ("fence", "gc-fence", lambda: gc_fence(h, tally, 180 if full else 20)),
        ("fault", "s3-restart-upload", lambda: fault_s3_restart(h, svc, tally, 3 if full else 1, upload=True)),
        ("fault", "s3-restart-download", lambda: fault_s3_restart(h, svc, tally, 3 if full else 1, upload=False)),
        ("fault", "gateway-blip", lambda: fault_gateway_blip(h, tally, 3 if full else 1)),
        ("fault", "silent-endpoint", lambda: fault_silent_endpoint(h, tally, full)),
        ("fault", "pg-restart-merge", lambda: fault_pg_restart_merge(h, svc, tally, 5 if full else 1)),
        ("fault", "corrupt-object", lambda: fault_corrupt_object(h, tally)),
        ("fault", "full-disk", lambda: fault_full_disk(h, tally)),
        ("load", "load", lambda: __import__("load").run(h, tally, seconds=300 if full else 30, clients=16)),
    ]
    steps = [(label, step) for group, label, step in steps if want(group) or label in only]
    for label, step in steps:
        print(f"== {label}", flush=True)
        s = time.monotonic()
        try:
            step()
        except TrialError as error:
            tally.add(f"{label}: set-up", time.monotonic() - s, violations=1, note=str(error)[:2000])
        print(f"   {label}: {time.monotonic() - s:.0f} s", flush=True)
    if want("secrets"):
        secrets = {"database password (owner)": os.environ.get("TRIALS_OWNER_PASSWORD", ""),
                   "database password (app)": os.environ.get("TRIALS_APP_PASSWORD", ""),
                   "S3 secret key": os.environ.get("AWS_SECRET_ACCESS_KEY", "")}
        h.log.flush()
        secrets_grep(args.out, secrets, [p for p in os.environ.get("TRIALS_SERVICE_LOGS", "").split(":") if p], tally)
    total = time.monotonic() - t0
    summary = {"mode": args.mode, "seed": seed, "seconds": round(total), "kinds": tally.kinds, "failures": tally.failures}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    trials = sum(e["trials"] for e in tally.kinds.values())
    violations = sum(e["violations"] for e in tally.kinds.values())
    hangs = sum(e["hangs"] for e in tally.kinds.values())
    print()
    print(tally.table())
    print()
    print(f"trials: {trials} run, {violations} violation(s), {hangs} hang(s), {total:.0f} s (mode {args.mode}, seed {seed})")
    print(f"{trials - len(tally.failures)} passed, {len(tally.failures)} failed")
    return 0 if not violations and not hangs else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())

"""The Quiver LoRA resolver for vLLM.

vLLM asks ``resolve_lora(base_model_name, lora_name)`` for every model name it does not know, with ``lora_name``
the string a request put in ``model`` and ``base_model_name`` the ``--model`` path. This resolver answers for
``NAME@ALIAS``, ``NAME@VERSION`` and sha256 digests: it looks the version up through the Quiver HTTP API, checks it
against the served base model and ``--max-lora-rank``, downloads both files into a cache directory keyed by the
version's canonical digest (each file's sha256 verified, the directory renamed into place only when complete), and
returns a ``LoRARequest`` pointing there.

How vLLM 0.32 uses the answer (``vllm/entrypoints/openai/models/serving.py``): it stores it in
``OpenAIServingModels.lora_requests`` under the *requested* name (``assistant@production``), replaces
``lora_int_id`` with its own counter, and serves every later request for that name from the dict without asking a
resolver again. So a moved alias is only seen after ``POST /v1/unload_lora_adapter {"lora_name":
"assistant@production"}`` removes that key (``quiver_vllm.watch`` does it); the next request resolves anew and
gets a fresh id, hence fresh adapter slots, never the old weights. The ``LoRARequest``'s own ``lora_name``
(``assistant@2+sha256:<16 hex>``) is derived from the digest: it is what ``/v1/models`` lists and what a
completion's ``model`` field reports, so a client can see which version answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from .client import ClientSettings, QuiverAPI, Ref, parse_ref, sha256_file
from .errors import BaseModelMismatch, ConfigurationError, IntegrityError, RankTooLarge, UnsupportedAdapter

# A child of vLLM's logger, so these lines appear in its log with its format.
logger = logging.getLogger("vllm.quiver")

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
STATE_FILE = "resolved.json"


def _max_lora_rank_from_argv(argv) -> int | None:
    for index, arg in enumerate(argv):
        if arg == "--max-lora-rank" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--max-lora-rank="):
            value = arg.split("=", 1)[1]
        else:
            continue
        try:
            return int(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class ResolverSettings:
    """What the resolver checks against and where it caches.

    - ``QUIVER_VLLM_BASE_MODEL``: the names the served model has in the registry (an adapter's
      ``base_model_name_or_path``), comma-separated; an entry ``MODEL=NAME`` applies only when vLLM's ``--model`` is
      ``MODEL``. The ``--model`` string itself is always accepted. ``*`` turns the check off.
    - ``QUIVER_VLLM_MAX_LORA_RANK``: vLLM's ``--max-lora-rank``; default: read from the server's command line, else 16
      (vLLM's default).
    - ``QUIVER_VLLM_CACHE_DIR``: the cache, one directory per canonical digest; default ``~/.cache/quiver-vllm``.
    """

    base_models: tuple[str, ...] = ()
    max_lora_rank: int = 16
    cache_dir: str = os.path.expanduser("~/.cache/quiver-vllm")

    @classmethod
    def from_env(cls, environ=None, argv=None) -> "ResolverSettings":
        environ = os.environ if environ is None else environ
        argv = sys.argv if argv is None else argv
        names = tuple(n.strip() for n in environ.get("QUIVER_VLLM_BASE_MODEL", "").split(",") if n.strip())
        rank_text = environ.get("QUIVER_VLLM_MAX_LORA_RANK", "").strip()
        if rank_text:
            try:
                rank = int(rank_text)
            except ValueError:
                raise ConfigurationError(f"QUIVER_VLLM_MAX_LORA_RANK {rank_text!r} is not a whole number") from None
        else:
            rank = _max_lora_rank_from_argv(argv) or 16
        cache = environ.get("QUIVER_VLLM_CACHE_DIR", "").strip() or os.path.expanduser("~/.cache/quiver-vllm")
        return cls(base_models=names, max_lora_rank=rank, cache_dir=cache)

    def accepted_base_models(self, served: str) -> set[str] | None:
        """The adapter base-model names accepted for vLLM's ``--model`` ``served``; None when anything goes."""
        accepted = {served}
        for entry in self.base_models:
            if entry == "*":
                return None
            model, sep, name = entry.partition("=")
            if sep:
                if model.strip() == served:
                    accepted.add(name.strip())
            else:
                accepted.add(entry)
        return accepted


def check_adapter(detail: dict, served_model: str, settings: ResolverSettings) -> None:
    """Refuses, with a named error, what vLLM would refuse or serve wrongly: DoRA, another base model, a rank above
    ``--max-lora-rank`` (the largest of any module, ``rank_pattern`` included)."""
    version = detail["version"]
    label = f"{version['name']}@{version['version']}"
    if version.get("useDora"):
        raise UnsupportedAdapter(f"{label} is a DoRA adapter, which vLLM does not serve",
                                 "merge or re-train it as plain LoRA")
    accepted = settings.accepted_base_models(served_model)
    base = version.get("baseModel") or ""
    if accepted is not None and base not in accepted:
        raise BaseModelMismatch(
            f"{label} was trained on base model {base!r}, and this vLLM serves {served_model!r} (accepted: {sorted(accepted)})",
            f"serve {base!r}, or set QUIVER_VLLM_BASE_MODEL={base} if {served_model!r} is that model")
    ranks = [m.get("rank", 0) for m in detail.get("modules", [])] + [version.get("rank", 0)]
    rank = max(ranks)
    if rank > settings.max_lora_rank:
        raise RankTooLarge(f"{label} has rank {rank}, above this vLLM's --max-lora-rank {settings.max_lora_rank}",
                           "start vLLM with a larger --max-lora-rank (8, 16, 32, 64, ...) or serve a lower-rank version")


def lora_identity(version: dict) -> tuple[str, int]:
    """The ``LoRARequest`` name and integer id of a version, both derived from its canonical digest."""
    digest = version["canonicalDigest"]["hex"]
    return f"{version['name']}@{version['version']}+sha256:{digest[:16]}", int(digest[:8], 16) % (2**31 - 1) + 1


class AdapterCache:
    """Adapters by canonical digest: ``<cache>/<digest>/`` holds the two PEFT files and ``quiver.json``.

    A directory is only ever complete: files are downloaded and verified into a temporary sibling, which is renamed
    into place. A directory already present is re-hashed before it is used; one that fails is replaced.
    """

    def __init__(self, root: str, api: QuiverAPI):
        self.root = root
        self.api = api
        self._state_lock = threading.Lock()

    def _verified(self, directory: str, version: dict) -> bool:
        try:
            return (sha256_file(os.path.join(directory, CONFIG_FILE)) == version["configDigest"]["hex"]
                    and sha256_file(os.path.join(directory, WEIGHTS_FILE)) == version["weightsDigest"]["hex"])
        except OSError:
            return False

    def ensure(self, version: dict) -> tuple[str, bool]:
        """The verified directory of ``version``, downloading it when needed; and whether it was already there."""
        os.makedirs(self.root, exist_ok=True)
        final = os.path.join(self.root, version["canonicalDigest"]["hex"])
        if os.path.isdir(final):
            if self._verified(final, version):
                return final, True
            logger.warning("cached adapter %s failed verification; downloading it again", final)
            shutil.rmtree(final, ignore_errors=True)
        scratch = tempfile.mkdtemp(prefix=".download-", dir=self.root)
        try:
            self.api.download(version["configDigest"]["hex"], os.path.join(scratch, CONFIG_FILE))
            self.api.download(version["weightsDigest"]["hex"], os.path.join(scratch, WEIGHTS_FILE))
            with open(os.path.join(scratch, "quiver.json"), "w", encoding="utf-8") as out:
                json.dump({
                    "version": f"{version['name']}@{version['version']}",
                    "canonical_digest": version["canonicalDigest"]["hex"],
                    "files": {CONFIG_FILE: version["configDigest"]["hex"], WEIGHTS_FILE: version["weightsDigest"]["hex"]},
                    "server": self.api.settings.server,
                }, out, indent=2, sort_keys=True)
            try:
                os.rename(scratch, final)
            except OSError:
                # Someone else finished the same digest first: theirs is as good as ours once verified.
                if not self._verified(final, version):
                    raise IntegrityError(f"{final} appeared during the download and does not verify",
                                         f"remove {final} and retry") from None
            return final, False
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def note_resolved(self, requested: str, version: dict) -> None:
        """Records which digest a requested name was resolved to (``resolved.json``), for the watcher's polls."""
        path = os.path.join(self.root, STATE_FILE)
        with self._state_lock:
            try:
                with open(path, encoding="utf-8") as handle:
                    state = json.load(handle)
            except (OSError, ValueError):
                state = {}
            state[requested] = {"version": f"{version['name']}@{version['version']}",
                                "canonical_digest": version["canonicalDigest"]["hex"], "at": time.time()}
            fd, temporary = tempfile.mkstemp(prefix=".resolved-", dir=self.root)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(state, out, indent=2, sort_keys=True)
            os.replace(temporary, path)


class QuiverResolution:
    """The resolver's logic without vLLM: ``resolve(served_model, requested)`` returns ``(name, int_id, path,
    version)`` or None."""

    def __init__(self, client: ClientSettings, settings: ResolverSettings):
        self.api = QuiverAPI(client)
        self.settings = settings
        self.cache = AdapterCache(settings.cache_dir, self.api)

    def resolve(self, served_model: str, requested: str):
        ref: Ref | None = parse_ref(requested)
        if ref is None:
            return None
        started = time.monotonic()
        detail = self.api.show(ref.api_ref)
        if detail is None:
            logger.info("quiver: %s is not in the registry", requested)
            return None
        check_adapter(detail, served_model, self.settings)
        version = detail["version"]
        path, cached = self.cache.ensure(version)
        self.cache.note_resolved(requested, version)
        name, int_id = lora_identity(version)
        logger.info("quiver: %s -> %s (%s, %.0f ms)", requested, name, "cached" if cached else "downloaded",
                    (time.monotonic() - started) * 1000)
        return name, int_id, path, version


def make_resolver(client: ClientSettings, settings: ResolverSettings):
    """The vLLM ``LoRAResolver`` (vLLM is imported here, so the rest of the package works without it)."""
    from vllm.lora.request import LoRARequest
    from vllm.lora.resolver import LoRAResolver

    class QuiverLoRAResolver(LoRAResolver):
        def __init__(self):
            self.resolution = QuiverResolution(client, settings)

        async def resolve_lora(self, base_model_name: str, lora_name: str):
            # urllib blocks: keep vLLM's event loop free.
            found = await asyncio.to_thread(self.resolution.resolve, base_model_name, lora_name)
            if found is None:
                return None
            name, int_id, path, _ = found
            return LoRARequest(lora_name=name, lora_int_id=int_id, lora_path=path)

    return QuiverLoRAResolver()

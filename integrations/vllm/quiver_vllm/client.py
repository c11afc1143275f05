"""The Quiver HTTP API as the resolver needs it: settings from the environment, version lookup, verified downloads.

Standard library only (urllib). The bearer token is sent in a header and never appears in a message or a log line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from .errors import ConfigurationError, IntegrityError, RegistryRefused, RegistryUnavailable

DIGEST_RE = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
REF_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._/-]{0,127})@([A-Za-z][A-Za-z0-9_-]{0,63}|[1-9][0-9]{0,9})$")


@dataclass(frozen=True)
class Ref:
    """A reference vLLM can be asked for: ``NAME@ALIAS``, ``NAME@VERSION`` or a sha256 digest."""

    text: str
    name: str | None = None
    selector: str | None = None
    digest: str | None = None

    @property
    def api_ref(self) -> str:
        return f"sha256:{self.digest}" if self.digest else f"{self.name}@{self.selector}"

    @property
    def is_alias(self) -> bool:
        return self.selector is not None and not self.selector.isdigit()


def parse_ref(text: str) -> Ref | None:
    """The reference ``text`` names, or None when it is not one this resolver answers for (a bare ``NAME`` is not:
    "the latest version" would change under a running server without any alias move to announce it)."""
    if not isinstance(text, str):
        return None
    match = DIGEST_RE.match(text)
    if match:
        return Ref(text=text, digest=match.group(1).lower())
    match = REF_RE.match(text)
    if match:
        return Ref(text=text, name=match.group(1), selector=match.group(2))
    return None


def _read_token(environ) -> str | None:
    token = environ.get("QUIVER_TOKEN", "").strip()
    if token:
        return token
    path = environ.get("QUIVER_TOKEN_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                first = handle.readline().strip()
        except OSError as error:
            raise ConfigurationError(f"QUIVER_TOKEN_FILE {path!r} cannot be read: {error.strerror}",
                                     "point it at a file whose first line is the token") from None
        if not first:
            raise ConfigurationError(f"QUIVER_TOKEN_FILE {path!r} has no token on its first line")
        return first
    return None


@dataclass(frozen=True)
class ClientSettings:
    server: str
    token: str | None = field(default=None, repr=False)  # never shown
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ=None) -> "ClientSettings":
        environ = os.environ if environ is None else environ
        server = environ.get("QUIVER_SERVER", "").strip().rstrip("/")
        if not server:
            raise ConfigurationError("QUIVER_SERVER is not set", "set it to the quiver serve URL, e.g. http://registry:8080")
        parsed = urllib.parse.urlparse(server)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(f"QUIVER_SERVER {server!r} is not an http(s) URL")
        timeout = environ.get("QUIVER_VLLM_TIMEOUT", "30")
        try:
            seconds = float(timeout)
        except ValueError:
            raise ConfigurationError(f"QUIVER_VLLM_TIMEOUT {timeout!r} is not a number of seconds") from None
        return cls(server=server, token=_read_token(environ), timeout=seconds)


class QuiverAPI:
    """The few operations of ``quiver serve`` the integration uses (read scope is enough)."""

    def __init__(self, settings: ClientSettings):
        self.settings = settings

    def _url(self, *segments: str) -> str:
        return self.settings.server + "".join("/" + urllib.parse.quote(s, safe="@:") for s in segments)

    def _open(self, url: str):
        request = urllib.request.Request(url, headers={"User-Agent": "quiver-vllm/0.1"})
        if self.settings.token:
            request.add_unredirected_header("Authorization", f"Bearer {self.settings.token}")
        try:
            return urllib.request.urlopen(request, timeout=self.settings.timeout)
        except urllib.error.HTTPError as error:
            body = error.read(4096).decode("utf-8", "replace")
            try:
                detail = json.loads(body)["error"]
                code, message, hint = detail.get("code", "?"), detail.get("message", ""), detail.get("hint", "")
            except (ValueError, KeyError, TypeError):
                code, message, hint = "?", body[:200], ""
            if error.code == 404:
                return None
            cls = RegistryUnavailable if error.code >= 500 else RegistryRefused
            raise cls(f"GET {url} answered HTTP {error.code} ({code}): {message}",
                      hint or "check QUIVER_TOKEN / QUIVER_TOKEN_FILE (a read token whose --names covers the adapter)") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RegistryUnavailable(f"GET {url} failed: {reason}",
                                      f"check that quiver serve runs at {self.settings.server} (QUIVER_SERVER)") from None

    def show(self, ref: str) -> dict | None:
        """``GET /v1/versions/{ref}``: the version with its modules and aliases, or None when there is none."""
        response = self._open(self._url("v1", "versions", ref))
        if response is None:
            return None
        with response:
            return json.loads(response.read())

    def download(self, digest: str, path: str) -> None:
        """Streams blob ``digest`` into ``path``, hashing as it goes; IntegrityError when the bytes differ."""
        url = self._url("v1", "blobs", digest)
        response = self._open(url)
        if response is None:
            raise IntegrityError(f"the registry has no blob sha256:{digest}", "run 'quiver fsck' on the registry")
        hasher = hashlib.sha256()
        with response, open(path, "wb") as out:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if hasher.hexdigest() != digest:
            raise IntegrityError(f"the blob downloaded from {url} hashes to sha256:{hasher.hexdigest()}, not sha256:{digest}",
                                 "the registry's store or something between returned other bytes; run 'quiver fsck --deep'")


def sha256_file(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()

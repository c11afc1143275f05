"""Checks a Quiver webhook's signature: ``X-Quiver-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``
with ``X-Quiver-Timestamp`` the Unix time it was signed at."""

import hashlib
import hmac
import time


class SignatureError(ValueError):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, headers, body: bytes, tolerance: float = 300.0, now: float | None = None) -> None:
    """Raises SignatureError unless the headers carry a valid signature of ``body`` made within ``tolerance``
    seconds of ``now`` (a replayed old delivery is refused)."""
    signature = headers.get("X-Quiver-Signature") or ""
    stamp = headers.get("X-Quiver-Timestamp") or ""
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("X-Quiver-Timestamp is missing or not a whole number") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"X-Quiver-Timestamp is {now - timestamp:.0f} s away from this clock (tolerance {tolerance:.0f} s)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise SignatureError("X-Quiver-Signature does not match the body")

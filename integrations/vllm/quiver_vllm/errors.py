"""Named errors of the Quiver vLLM integration.

Every error has a stable ``code``, a message naming what is wrong and a ``hint`` saying what to do. They derive
from ``ValueError`` so that vLLM's OpenAI server answers a request whose adapter is refused with HTTP 400 and this
message (its exception handler maps ``ValueError`` to a client error), instead of a bare 500. A name the registry
does not know is not an error: the resolver returns ``None`` and vLLM answers 404.
"""


class QuiverVLLMError(ValueError):
    code = "quiver_vllm.error"

    def __init__(self, message: str, hint: str = ""):
        self.message = message
        self.hint = hint
        super().__init__(f"{self.code}: {message}" + (f" (hint: {hint})" if hint else ""))


class ConfigurationError(QuiverVLLMError):
    """The environment does not say where the registry is, or a setting is malformed."""
    code = "quiver_vllm.configuration"


class RegistryUnavailable(QuiverVLLMError):
    """The Quiver server did not answer, or answered with a server error."""
    code = "quiver_vllm.registry_unavailable"


class RegistryRefused(QuiverVLLMError):
    """The Quiver server refused the request (bad token, a token outside its scope or name pattern, …)."""
    code = "quiver_vllm.registry_refused"


class BaseModelMismatch(QuiverVLLMError):
    """The adapter was trained on another base model than the one vLLM serves."""
    code = "quiver_vllm.base_model_mismatch"


class RankTooLarge(QuiverVLLMError):
    """A module's rank exceeds vLLM's --max-lora-rank."""
    code = "quiver_vllm.rank_too_large"


class UnsupportedAdapter(QuiverVLLMError):
    """vLLM cannot serve this adapter (DoRA, not LoRA)."""
    code = "quiver_vllm.unsupported_adapter"


class IntegrityError(QuiverVLLMError):
    """A downloaded file does not hash to the digest the registry recorded."""
    code = "quiver_vllm.integrity"

"""Serve Quiver registry adapters in vLLM.

``register()`` is the ``vllm.general_plugins`` entry point: with ``QUIVER_SERVER`` set it registers the resolver
(``quiver_vllm.resolver``); without it, it does nothing (vLLM runs as if the plugin were absent). vLLM consults
resolvers only with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``.
"""

import logging
import os

# A child of vLLM's logger, so these lines appear in its log with its format.
logger = logging.getLogger("vllm.quiver")


def register() -> None:
    if not os.environ.get("QUIVER_SERVER"):
        logger.info("quiver: QUIVER_SERVER is not set; the Quiver LoRA resolver is not registered")
        return
    from vllm.lora.resolver import LoRAResolverRegistry

    from .client import ClientSettings
    from .resolver import ResolverSettings, make_resolver

    settings = ResolverSettings.from_env()
    LoRAResolverRegistry.register_resolver("Quiver", make_resolver(ClientSettings.from_env(), settings))
    logger.info("quiver: resolver registered for %s (max rank %d, cache %s)", os.environ["QUIVER_SERVER"],
                settings.max_lora_rank, settings.cache_dir)

"""A local model-provider server speaking OpenAI, Anthropic, Gemini and Ollama (see server.py)."""

from tests.providerserver.server import (
    DEFAULT_KEY,
    DEFAULT_MODELS,
    ProviderServer,
    RecordedRequest,
    Script,
    provider_server,
    split_text,
)

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_MODELS",
    "ProviderServer",
    "RecordedRequest",
    "Script",
    "provider_server",
    "split_text",
]

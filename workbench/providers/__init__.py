"""Model provider clients: one module per API family over one small HTTP interface,
one error tree, one retry and timeout policy.

- ``base``: ``ChatRequest`` in; ``TextDelta`` / ``RetryNotice`` / ``Usage`` /
  ``Finish`` events out; ``ProviderClient`` (``stream_chat``, ``chat``, ``list_models``).
- ``errors``: the ``ProviderError`` tree and the one status-code mapping.
- ``policy``: ``RetryPolicy``, ``Timeouts``, ``parse_retry_after``.
- ``sse`` / ``ndjson``: incremental stream decoders.
- ``openai``, ``anthropic``, ``gemini``, ``ollama``, ``echo``: the families.
- ``profiles``: ``ProviderProfile``, ``make_client``, ``detect_ollama``.
- ``http``: ``ProviderHttp`` and ``make_http_client`` (aiohttp directly, or httpx's
  own transport; measured in ``bench/http_transports.py``).

Importing this package imports nothing heavy; import the modules you need.
"""

"""Pytest fixtures for the local provider server; register with
``pytest_plugins = ["tests.providerserver.fixtures"]`` in a conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.providerserver.server import ProviderServer


@pytest.fixture
def provider_server() -> Iterator[ProviderServer]:
    """A fresh server per test (starting one takes a few milliseconds)."""
    with ProviderServer() as server:
        yield server

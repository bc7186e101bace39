"""Run the provider server in its own process (for benchmarks).

``python -m tests.providerserver --ttft 0.2 --chunks 8`` prints its root URL on
the first line of stdout, then serves until stdin closes or it is terminated.
"""

from __future__ import annotations

import argparse
import sys

from tests.providerserver.server import DEFAULT_KEY, ProviderServer, Script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default=DEFAULT_KEY)
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--text", default=None)
    args = parser.parse_args()
    default = Script(
        text=args.text, chunks=args.chunks, ttft=args.ttft, chunk_delay=args.chunk_delay
    )
    with ProviderServer(api_key=args.key, default=default, port=args.port) as server:
        print(server.url, flush=True)
        sys.stdin.read()  # the parent closes our stdin (or exits) to stop us


if __name__ == "__main__":
    main()

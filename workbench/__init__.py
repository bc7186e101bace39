"""Prompt Workbench: a versioned prompt vault, model comparison, review and publishing."""

import sys

__version__ = "0.1.0"

# ``import httpx`` also imports its command-line client (httpx._main) when click, rich and
# pygments happen to be installed (here they come with the dev tools, not with Prompt
# Workbench): ~0.1-0.4 s of every start for a CLI we never run. Marking it absent makes
# httpx take its own "CLI not installed" branch, as in a plain install.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

"""timm's hub download without the long hang when there is no network.

With no route to the Hub, huggingface_hub retries for about 50 s before timm's error reaches the
user. One 3-second TCP probe of the Hub endpoint tells us first; when it fails, the download runs in
huggingface_hub's offline mode, which serves weights already in the local cache and otherwise fails
at once. Behind a proxy the probe cannot tell, so it is skipped.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 3.0
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to the Hub endpoint (HF_ENDPOINT) opens within `timeout`."""
    try:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    except ImportError:  # pragma: no cover - timm depends on huggingface_hub
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def offline_unless_reachable() -> Iterator[bool]:
    """Run the body in huggingface_hub offline mode when the Hub cannot be reached; yields `offline`."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or any(os.environ.get(v) for v in PROXY_VARS) or hub_reachable():
        yield bool(constants.HF_HUB_OFFLINE)
        return
    constants.HF_HUB_OFFLINE = True
    try:
        yield True
    finally:
        constants.HF_HUB_OFFLINE = False


__all__ = ["hub_reachable", "offline_unless_reachable"]

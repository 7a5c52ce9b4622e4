"""What a server runs with: pipelines, key, limits and batching; passed to every worker process as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from clinlink.limits import MAX_NOTE_CHARS

SETTINGS_ENV = "CLINLINK_SERVE_SETTINGS"  # how uvicorn's worker processes get the settings
API_KEY_ENV = "CLINLINK_API_KEY"
DEFAULT_MAX_CHARS = MAX_NOTE_CHARS  # the batch runner's default --max-chars


@dataclass(frozen=True)
class ServeSettings:
    """``pipelines``: names or paths as ``clinlink annotate --pipeline`` takes them (None: the default), the first
    answering requests that name none. ``max_chars``: the most note text one request may carry. Requests wait in a
    queue of at most ``queue_size`` notes; the pipeline takes up to ``batch_size`` notes at a time, waiting at most
    ``batch_wait_ms`` for a batch to fill."""

    pipelines: tuple[str | None, ...] = (None,)
    exclude: tuple[str, ...] = ()
    api_key: str | None = None
    max_chars: int = DEFAULT_MAX_CHARS
    batch_size: int = 32
    batch_wait_ms: float = 5.0
    queue_size: int = 256
    cors_origins: tuple[str, ...] = ()

    def to_env(self) -> None:
        os.environ[SETTINGS_ENV] = json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeSettings:
        data = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})

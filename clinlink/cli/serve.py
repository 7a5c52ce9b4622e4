"""``clinlink serve``: the HTTP API and the page, on uvicorn."""

from __future__ import annotations

import copy

import typer
from rich.console import Console

from clinlink.serve.settings import API_KEY_ENV, ServeSettings

app = typer.Typer()
err = Console(stderr=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; beyond loopback, set an API key."),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    pipeline: list[str] = typer.Option(
        [], "--pipeline", "-p", help="Pipeline to serve (repeatable; the first answers requests that name none): a name in pipelines/ (default: clinical), a YAML path or a saved pipeline dir."
    ),
    exclude: list[str] = typer.Option([], "--exclude", help="Pipeline component to leave out (repeatable), e.g. --exclude linker."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes; each loads the pipeline once."),
    api_key: str = typer.Option(
        None, "--api-key", envvar=API_KEY_ENV, show_default=False, help=f"Key required on every route but /health (or set {API_KEY_ENV})."
    ),
    max_chars: int = typer.Option(ServeSettings.max_chars, "--max-chars", min=1, help="Most characters of note text in one request (413 beyond)."),
    batch_size: int = typer.Option(ServeSettings.batch_size, "--batch-size", min=1, help="Most notes per nlp.pipe batch."),
    batch_wait_ms: float = typer.Option(ServeSettings.batch_wait_ms, "--batch-wait-ms", min=0, help="How long a batch waits to fill."),
    queue_size: int = typer.Option(ServeSettings.queue_size, "--queue-size", min=1, help="Most notes waiting per worker (503 beyond)."),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help="Origin allowed to call the API from a browser (repeatable; default: none)."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log each request line (method, path, status; never the body)."),
) -> None:
    """Serve the pipeline over HTTP: POST /annotate, GET /health, /pipelines, /concepts/{id}, and a page at /."""
    import uvicorn

    from clinlink.pipeline import find_pipeline, read_pipeline_config
    from clinlink.serve.security import is_loopback

    for name in pipeline or [None]:  # a wrong name or config is one line and exit 1 here, not a traceback in each worker
        path = find_pipeline(name)
        if path.is_file():
            read_pipeline_config(path)
    settings = ServeSettings(
        pipelines=tuple(pipeline) or (None,), exclude=tuple(exclude), api_key=api_key or None, max_chars=max_chars,
        batch_size=batch_size, batch_wait_ms=batch_wait_ms, queue_size=queue_size, cors_origins=tuple(cors_origin),
    )
    if not is_loopback(host) and not settings.api_key:
        err.print(f"[bold yellow]warning:[/] binding {host} without an API key: anyone who reaches this port can annotate; "
                  f"set --api-key or {API_KEY_ENV}", highlight=False, soft_wrap=True)
    settings.to_env()
    uvicorn.run(
        "clinlink.serve.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_config=log_config(), access_log=access_log, server_header=False,
    )


def log_config() -> dict:
    """uvicorn's logging, with clinlink's own loggers on its handler (each worker process sets this up)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["clinlink"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config

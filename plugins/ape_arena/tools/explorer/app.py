"""The explorer's web app: a Starlette app serving one page and a small JSON API.

Routes (all GET, read-only):

* ``/`` — the page (``static/index.html``; it routes by URL fragment: ``#/``,
  ``#/task/1``, ``#/address/0x…``) and ``/static/…`` its script, style and Chart.js build
  (vendored: the page works offline).
* ``/api/info`` — chain id, arena, network, head block and time (the page polls it and
  redraws when a block arrives).
* ``/api/tasks?limit=50&below=N`` — the task list, newest first.
* ``/api/task/{id}`` — one task: every round's leaderboard and validators, chart series.
* ``/api/address/{address}`` — one account: positions, rewards over time, delegations.

A bad id or address answers 404/400 with ``{"error": …}``; a chain error 502.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...protocol import ArenaError
from .data import ExplorerData, to_json

STATIC = Path(__file__).with_name("static")


def _json(data, status: int = 200) -> Response:
    return Response(to_json(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


def _error(message: str, status: int) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def create_app(data: ExplorerData) -> Starlette:
    """The explorer app over ``data`` (an ``ExplorerData`` for a connected chain)."""

    def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    def info(_request: Request) -> Response:
        return _json(data.info())

    def tasks(request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", 50))
            below = request.query_params.get("below")
            below = int(below) if below not in (None, "") else None
        except ValueError:
            return _error("limit and below must be integers", 400)
        if not 1 <= limit <= 1000:
            return _error("limit must be 1..1000", 400)
        return _guard(lambda: data.tasks(limit, below))

    def task(request: Request) -> Response:
        try:
            task_id = int(request.path_params["task"])
        except ValueError:
            return _error(f"{request.path_params['task']!r} is not a task id", 400)
        return _guard(lambda: data.task(task_id), missing=404)

    def address(request: Request) -> Response:
        text = request.path_params["address"]
        if not (text.startswith("0x") and len(text) == 42):
            return _error(f"{text!r} is not an address (0x and 40 hex digits)", 400)
        try:
            int(text[2:], 16)
        except ValueError:
            return _error(f"{text!r} is not an address (0x and 40 hex digits)", 400)
        return _guard(lambda: data.address(text))

    def _guard(build, missing: int = 502) -> Response:
        try:
            return _json(build())
        except ArenaError as exc:
            return _error(str(exc), missing)

    routes = [
        Route("/", page),
        Route("/api/info", info),
        Route("/api/tasks", tasks),
        Route("/api/task/{task}", task),
        Route("/api/address/{address}", address),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def serve(data: ExplorerData, host: str = "127.0.0.1", port: int = 8080, *,
          log_level: str = "warning") -> None:  # fmt: skip
    """Run the explorer with uvicorn until interrupted (Ctrl-C)."""
    import uvicorn

    uvicorn.run(create_app(data), host=host, port=port, log_level=log_level)

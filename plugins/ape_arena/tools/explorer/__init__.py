"""The arena explorer: ``ape arena explorer`` serves a local web page over a JSON API.

``data.ExplorerData`` reads the chain through the plugin's client (cached per block,
nothing written on-chain); ``app.create_app`` is the Starlette app (the page, its vendored
Chart.js build, the API); ``app.serve`` runs it with uvicorn. Starlette and uvicorn are
imported only here, never by ``ape arena --help``.

Example::

    from ape_arena.tools.explorer import ExplorerData, serve
    serve(ExplorerData(client, network="ethereum:local:node"), port=8080)
"""

from __future__ import annotations

from .app import create_app, serve
from .data import ExplorerData, to_json

__all__ = ["ExplorerData", "create_app", "serve", "to_json"]

"""The explorer's web application (Starlette + Jinja2 templates + server-sent events).

Owns the routes, the page rendering and the live loop: a background task calls
`ExplorerData.refresh()` (in a worker thread, so a slow or dead node never blocks a
page) every `poll_seconds`, and every open page's event stream gets the new chain heads
as soon as they change; the page's small script then swaps in the fresh content. Any
error a visitor can cause is a 400/404 page; anything else is a 500 page that names no
internal detail (the log has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pvd.errors import UserError
from pvd.explorer.relayers import RelayerHealth, read_relayers
from pvd.explorer.search import BadSearch, parse_search
from pvd.explorer.view import YUAN, ChainHead, ExplorerData, TradeQuery
from pvd.protocol.statuses import TradeStatus

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATUSES = tuple(s.name.title() for s in TradeStatus if s is not TradeStatus.NONE)
PAGE_SIZES = (20, 50, 100)
_CURSOR = re.compile(r"^[0-9]{1,20}:0x[0-9a-f]{64}$")


@dataclass
class Live:
    """The newest heads and a version that changes whenever they do."""

    heads: tuple[ChainHead, ...] = ()
    version: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    relayers: tuple[RelayerHealth, ...] = ()
    stopping: bool = False


def _yuan(fen: int) -> str:
    return f"{fen // YUAN:,}.{fen % YUAN:02d}"


def _short(value: str | None, keep: int = 6) -> str:
    if not value:
        return ""
    return value if len(value) <= 2 * keep + 3 else f"{value[: keep + 2]}…{value[-keep + 2 :]}"


def _utc(timestamp: int | float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: int | float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s"
    if s < 2 * 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters.update(yuan=_yuan, short=_short, utc=_utc, duration=_duration)
    env.globals.update(statuses=STATUSES, page_sizes=PAGE_SIZES)
    return templates


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def create_app(
    data: ExplorerData,
    relayer_urls: Sequence[str] = (),
    poll_seconds: float = 0.25,
    relayer_poll_seconds: float = 5.0,
) -> Starlette:
    """The explorer as an ASGI app over `data`; the live loop runs while the app does."""
    templates = _templates()
    live = Live()

    def now() -> int:
        newest = [h.timestamp for h in live.heads if h.timestamp is not None]
        return max([int(time.time()), *newest])

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        fragment = request.query_params.get("fragment") == "1"
        base = {
            "heads": live.heads,
            "now": now(),
            "fragment": fragment,
            "path": request.url.path,
        }
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    async def call(function: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args)

    async def index(request: Request) -> Response:
        return RedirectResponse("/trades", status_code=302)

    async def trades(request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in STATUSES:
            raise HTTPException(400, f"unknown status {status[:40]!r}: pick one of the list")
        cursor = request.query_params.get("after") or None
        if cursor is not None and not _CURSOR.match(cursor):
            raise HTTPException(400, f"bad page cursor {cursor[:80]!r}: follow the page links")
        query = TradeQuery(
            page_size=_int_param(request, "size", 50, 1, max(PAGE_SIZES)),
            status=status,
            cursor=cursor,
        )
        text = request.query_params.get("q", "").strip()
        searched = ""
        if text:
            search = parse_search(text)  # BadSearch: a 400 page
            searched = search.value
            if search.kind == "address":
                query = replace(query, address=search.value)
            else:
                if await call(data.timeline, search.value) is not None:
                    return RedirectResponse(f"/trade/{search.value}", status_code=302)
                ids = await call(data.trades_of_tx, search.value)
                if not ids:
                    raise HTTPException(
                        404, f"no trade and no pvd transaction has the hash {search.value}"
                    )
                if len(ids) == 1:
                    return RedirectResponse(f"/trade/{ids[0]}", status_code=302)
                query = replace(query, trade_ids=tuple(ids), cursor=None)
        page = await call(data.trades, query)
        return render(request, "trades.html", {"page": page, "q": searched, "live": True})

    async def trade(request: Request) -> Response:
        trade_id = str(request.path_params["trade_id"])
        search = None
        with contextlib.suppress(BadSearch):
            search = parse_search(trade_id)
        if search is None or search.kind != "hash":
            raise HTTPException(400, f"{trade_id[:80]!r} is not a trade id (0x and 64 hex digits)")
        timeline = await call(data.timeline, search.value)
        if timeline is None:
            raise HTTPException(404, f"no trade {search.value} on the business chain")
        return render(request, "trade.html", {"t": timeline, "live": True})

    async def messages(request: Request) -> Response:
        rows = await call(data.messages)
        return render(
            request,
            "messages.html",
            {
                "messages": rows,
                "relayers": live.relayers,
                "relayer_urls": relayer_urls,
                "live": True,
            },
        )

    async def money(request: Request) -> Response:
        near = _int_param(request, "near", 80, 1, 100)
        view = await call(data.money, near / 100)
        return render(request, "money.html", {"money": view, "near": near, "live": True})

    async def health(request: Request) -> Response:
        return JSONResponse(_heads_json(live.heads))

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            seen = -1

            def moved() -> bool:
                return live.version != seen or live.stopping

            yield "retry: 1000\n\n"
            while not live.stopping:
                async with live.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(live.changed.wait_for(moved), timeout=15)
                if live.stopping:
                    return
                if live.version == seen:
                    yield ": keep-alive\n\n"
                    continue
                seen = live.version
                yield f"event: heads\ndata: {json.dumps(_heads_json(live.heads))}\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def follow() -> None:
        """Refresh the data from the chains and wake the streams when the heads move."""
        while not live.stopping:
            started = time.monotonic()
            try:
                heads = await call(data.refresh)
            except Exception:  # the loop must outlive any one failure
                log.exception("explorer refresh failed")
                heads = live.heads
            if heads != live.heads:
                async with live.changed:
                    live.heads = heads
                    live.version += 1
                    live.changed.notify_all()
            await asyncio.sleep(max(0.0, poll_seconds - (time.monotonic() - started)))

    async def watch_relayers() -> None:
        while not live.stopping and relayer_urls:
            live.relayers = await call(read_relayers, tuple(relayer_urls))
            await asyncio.sleep(relayer_poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        live.heads = await call(data.refresh)
        tasks = [asyncio.create_task(follow()), asyncio.create_task(watch_relayers())]
        try:
            yield
        finally:
            live.stopping = True
            async with live.changed:
                live.changed.notify_all()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}
        return render(
            request,
            "error.html",
            {
                "code": exc.status_code,
                "title": titles.get(exc.status_code, "Error"),
                "detail": exc.detail,
            },
            status=exc.status_code,
        )

    async def user_error(request: Request, exc: Exception) -> Response:
        title = "Bad search" if isinstance(exc, BadSearch) else "Bad request"
        return render(request, "error.html", {"code": 400, "title": title, "detail": str(exc)}, 400)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("explorer page failed", exc_info=exc, extra={"path": request.url.path})
        return render(
            request,
            "error.html",
            {
                "code": 500,
                "title": "Server error",
                "detail": "the explorer could not build this page; its log says why",
            },
            status=500,
        )

    routes = [
        Route("/", index),
        Route("/trades", trades),
        Route("/trade/{trade_id}", trade),
        Route("/messages", messages),
        Route("/money", money),
        Route("/health", health),
        Route("/events", events),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: http_error,
            UserError: user_error,
            Exception: server_error,
        },
    )
    app.state.live = live
    return app


def _heads_json(heads: Sequence[ChainHead]) -> dict[str, Any]:
    return {
        "chains": [
            {
                "chain": h.chain.value,
                "block": h.block,
                "time": _utc(h.timestamp),
                "error": h.error,
            }
            for h in heads
        ]
    }

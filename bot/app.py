"""The FastAPI application, built by a factory from settings (or from a ready runtime)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from bot.api.admission import TurnsInFlight
from bot.api.errors import install_error_handlers
from bot.api.limits import RateLimits
from bot.api.nul import NulFreeUrls
from bot.api.openapi import describe
from bot.api.routes import (
    conversations,
    health,
    knowledge,
    models,
    privacy,
    staff,
    suggestions,
    web,
)
from bot.api.security import CrossOriginOnly, SecurityHeaders
from bot.api.validation import install_validation_handler
from bot.config import Settings
from bot.runtime import Runtime, build_runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The app; with ``runtime`` given it is used as it is (and not closed at shutdown)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        # The threads that run requests; the database pool has a connection for each.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.runtime = build_runtime(settings) if runtime is None else runtime
        app.state.turns_in_flight = TurnsInFlight(
            settings.max_turns_in_flight, settings.turn_target_seconds
        )
        tune_garbage_collector()
        try:
            yield
        finally:
            if own:
                app.state.runtime.close()

    app = FastAPI(
        title="cxagent",
        summary="A conversational customer-experience agent",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_validation_handler(app)
    describe(app, settings)
    # The widget runs on the company's own site, another origin than this service.
    app.add_middleware(CrossOriginOnly, origins=settings.widget_origins)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(NulFreeUrls)
    app.state.rate_limits = RateLimits(settings)
    app.state.metrics_token = settings.metrics_token

    app.include_router(health.router)
    app.include_router(conversations.router)
    app.include_router(staff.public_router)
    app.include_router(staff.router)
    app.include_router(suggestions.router)
    app.include_router(privacy.router)
    app.include_router(knowledge.router)
    app.include_router(models.router)
    app.include_router(web.router)
    return app


def tune_garbage_collector() -> None:
    """Leave what start-up built (the model, its libraries, the knowledge base and index: half
    a million objects that live as long as the process) out of the garbage collector's full
    passes. Each pass walked them all and stopped every turn in the process for about 200 ms,
    every few seconds under load: most of the slowest 1% of turns.

    And collect the young generation after 10,000 new objects rather than 700: a turn's objects
    are freed as it ends, by their counts, and the collector mostly found nothing. Under 50
    customers (2 workers, PostgreSQL) each worker ran 200 to 280 young collections and about 20
    middle ones every 10 s, 130 to 180 ms of stopped turns; with 10,000, one to four, 3 to 33
    ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000)

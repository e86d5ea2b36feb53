"""The two faces of the product, served as plain files: the customer widget (with a demo page
that embeds it) and the staff console, both native ES modules, with the helpers they share.
No build step and no separate server."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

router = APIRouter(include_in_schema=False)

# Browsers should check for a new widget or console after an upgrade, not run a stale copy.
NO_STALE = {"Cache-Control": "no-cache"}


def _file(relative: str, media_type: str | None = None) -> FileResponse:
    path = WEB_DIR / relative
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{relative} is not part of this install")
    return FileResponse(path, media_type=media_type, headers=NO_STALE)


def _asset(folder: str, name: str) -> FileResponse:
    """A flat file of one of the page folders: no paths, no dot-files. Modules go out as
    text/javascript, which browsers require of a module script."""
    if "/" in name or "\\" in name or name.startswith("."):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such {folder} file")
    return _file(f"{folder}/{name}", "text/javascript" if name.endswith(".js") else None)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/demo")


@router.get("/widget.js")
def widget() -> FileResponse:
    return _file("widget.js", "text/javascript")


@router.get("/demo")
def demo() -> FileResponse:
    return _file("demo.html", "text/html")


@router.get("/console")
def console() -> FileResponse:
    return _file("console/index.html", "text/html")


@router.get("/console/{name}")
def console_asset(name: str) -> FileResponse:
    return _asset("console", name)


@router.get("/widget/{name}")
def widget_module(name: str) -> FileResponse:
    return _asset("widget", name)


@router.get("/shared/{name}")
def shared_module(name: str) -> FileResponse:
    return _asset("shared", name)

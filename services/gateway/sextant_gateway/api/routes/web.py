"""The built web terminal: ``/`` and its assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles


def mount_web(app: FastAPI, dist: Path) -> None:
    """Serve ``dist/index.html`` at ``/`` and ``dist/assets`` at ``/assets``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index() -> FileResponse:
        page = dist / "index.html"
        if not page.is_file():
            raise HTTPException(503, detail=f"web terminal not built ({page}): run `make setup`")
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

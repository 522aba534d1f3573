"""GET /api/cells and GET /api/presets: what the engine offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import QueryKindOptions, SettingsDep
from app.schemas import CellKind, CellsPublic, ErrorPublic, PresetsPublic
from app.sessions import kinds

router = APIRouter(tags=["catalogue"])


@router.get("/cells", response_model=CellsPublic, responses={422: {"model": ErrorPublic}})
def list_cells(
    settings: SettingsDep,
    options: QueryKindOptions,
    kind: Annotated[CellKind | None, Query(description="one kind only")] = None,
) -> dict:
    """Cell kinds with their default options, state and signal descriptions (computation
    order), each with its option values and the stages it has; the global stage order and
    the size limits. Options given apply to the kinds that have them."""
    return kinds.cell_kinds(kind, options, settings)


@router.get("/presets", response_model=PresetsPublic)
def list_presets() -> dict:
    """Hand-set cells with a vocabulary and a sample text."""
    return {"presets": list(kinds.presets())}

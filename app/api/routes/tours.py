"""GET /api/tours: the guided tours the page can walk through (data files, app/tours/data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.tours import load_tours

router = APIRouter(tags=["tours"])


class TourPublic(BaseModel):
    name: str
    title: str
    source: str = Field("", description="the article the story comes from")
    steps: list[dict[str, Any]] = Field(description='[{"text", "view": {...}, "names": [...]}]')


@router.get("/tours", response_model=list[TourPublic])
def list_tours() -> list[dict]:
    """Every tour with its steps (5 to 10 each)."""
    return list(load_tours())

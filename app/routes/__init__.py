"""The API routers, gathered under /api by app/main.py."""

from fastapi import APIRouter

from . import catalog, health, sessions, stream, weights

api_router = APIRouter()
api_router.include_router(catalog.router)
api_router.include_router(sessions.router)
api_router.include_router(weights.router)
api_router.include_router(stream.router)
api_router.include_router(health.router)

"""The API routers, gathered under /api by app/core/factory.py."""

from fastapi import APIRouter

from app.api.routes import catalogue, health, lab, sessions, stream, tours, train, weights

api_router = APIRouter()
api_router.include_router(catalogue.router)
api_router.include_router(sessions.router)
api_router.include_router(weights.router)
api_router.include_router(stream.router)
api_router.include_router(health.router)
api_router.include_router(tours.router)
api_router.include_router(train.router)
api_router.include_router(lab.router)

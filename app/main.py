"""`uvicorn app.main:create_app --factory` and scripts that import `app.main` keep working;
the factory lives in app/core/factory.py."""

from app.core.factory import create_app

__all__ = ["create_app"]

"""The API's dependencies, each declared once as an ``Annotated`` alias (FastAPI's idiom).

All are ``async``: they do no I/O, so they run on the event loop and take no worker thread."""

# No `from __future__ import annotations`: FastAPI reads these annotations.
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from etl_lib.config.settings import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]

_bearer = HTTPBearer(
    auto_error=False,
    description="Required on every route but /health when the API was started with ETL_API_TOKEN.",
)


async def require_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """With ``ETL_API_TOKEN`` set, the request must carry ``Authorization: Bearer <token>``."""
    if settings.api_token is None:
        return
    sent = credentials.credentials if credentials else ""
    if not secrets.compare_digest(sent.encode(), settings.api_token.get_secret_value().encode()):
        raise HTTPException(
            status_code=401,
            detail="Missing or wrong bearer token. Send 'Authorization: Bearer <ETL_API_TOKEN>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )


Authorized = Depends(require_token)

from collections.abc import AsyncGenerator
from typing import Annotated

import jwt
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.database import async_session
from app.schemas.user.response import UserMetadata
from app.utils.auth import Authenticator
from app.utils.exceptions import AppError


async def get_db_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session() as session:
        yield session


async def get_current_user(request: Request) -> UserMetadata:
    token = request.cookies.get("access_token")
    if not token:
        raise AppError.INVALID_CREDENTIALS_ERROR
    try:
        payload = Authenticator.decode_token(token)
    except jwt.PyJWTError as exc:
        raise AppError.INVALID_CREDENTIALS_ERROR from exc
    return UserMetadata.model_validate(payload)


CurrentSession = Annotated[AsyncSession, Depends(get_db_session)]
CurrentUser = Annotated[UserMetadata, Depends(get_current_user)]

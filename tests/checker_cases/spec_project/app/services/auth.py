from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import User
from app.schemas.user.request import LoginRequest, RegisterRequest
from app.utils.auth import Authenticator
from app.utils.exceptions import AppError

DUMMY_HASH = "$2b$12$" + "." * 53


class AuthService:
    @staticmethod
    async def register(session: AsyncSession, data: RegisterRequest) -> User:
        hashed = await run_in_threadpool(Authenticator.hash_password, data.password)
        user = User(email=data.email, hashed_password=hashed)
        session.add(user)
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise AppError.EMAIL_TAKEN_ERROR from exc
        await session.refresh(user)
        return user

    @staticmethod
    async def authenticate(session: AsyncSession, data: LoginRequest) -> User:
        user = await session.scalar(select(User).where(User.email == data.email))
        hashed = user.hashed_password if user is not None else DUMMY_HASH
        # bcrypt runs in a worker thread, and for unknown emails too, so timing tells nothing
        valid = await run_in_threadpool(Authenticator.verify_password, data.password, hashed)
        if user is None or not valid:
            raise AppError.INVALID_CREDENTIALS_ERROR
        return user

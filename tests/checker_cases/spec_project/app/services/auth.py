from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import User
from app.schemas.user.request import LoginRequest, RegisterRequest
from app.utils.auth import Authenticator
from app.utils.exceptions import AppError


class AuthService:
    @staticmethod
    async def register(session: AsyncSession, data: RegisterRequest) -> User:
        user = User(
            email=data.email,
            hashed_password=Authenticator.hash_password(data.password),
        )
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
        if user is None or not Authenticator.verify_password(data.password, user.hashed_password):
            raise AppError.INVALID_CREDENTIALS_ERROR
        return user

from app.db.errors import EntityDoesNotExist
from app.db.queries.queries import queries
from app.db.repositories.base import BaseRepository
from app.models.domain.users import UserInDB


class UsersRepository(BaseRepository):
    async def get_user_by_email(self, *, email: str) -> UserInDB:
        user_row = await queries.get_user_by_email(self.connection, email=email)
        if user_row:
            return UserInDB(**user_row)
        raise EntityDoesNotExist(f"user with email {email} does not exist")

    async def create_user(self, *, username: str, email: str, password: str) -> UserInDB:
        user = UserInDB(username=username, email=email)
        user.change_password(password)  # expect: BA306
        async with self.connection.transaction():
            user_row = await queries.create_new_user(
                self.connection,
                username=user.username,
                email=user.email,
                salt=user.salt,
                hashed_password=user.hashed_password,
            )
        return user.model_copy(update=dict(user_row))

    async def update_user(self, *, username: str, password: str | None = None) -> UserInDB:
        user_in_db = await self.get_user_by_email(email=username)
        if password:
            user_in_db.change_password(password)  # expect: BA306
        return user_in_db

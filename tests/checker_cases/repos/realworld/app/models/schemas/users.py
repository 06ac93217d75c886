from pydantic import BaseModel

from app.models.domain.users import User


class UserInLogin(BaseModel):
    email: str
    password: str


class UserInCreate(UserInLogin):
    username: str


class UserWithToken(User):
    token: str


class UserInResponse(BaseModel):
    user: UserWithToken

from fastapi import APIRouter, Body, Depends, HTTPException
from starlette.status import HTTP_201_CREATED, HTTP_400_BAD_REQUEST

from app.api.dependencies.database import get_repository
from app.db.errors import EntityDoesNotExist
from app.db.repositories.users import UsersRepository
from app.models.schemas.users import UserInCreate, UserInLogin, UserInResponse, UserWithToken
from app.services import jwt

router = APIRouter()


@router.post("/login", response_model=UserInResponse, name="auth:login")
async def login(
    user_login: UserInLogin = Body(..., embed=True, alias="user"),
    users_repo: UsersRepository = Depends(get_repository(UsersRepository)),
) -> UserInResponse:
    wrong_login_error = HTTPException(status_code=HTTP_400_BAD_REQUEST, detail="incorrect login")
    try:
        user = await users_repo.get_user_by_email(email=user_login.email)
    except EntityDoesNotExist as existence_error:
        raise wrong_login_error from existence_error
    if not user.check_password(user_login.password):  # expect: BA306
        raise wrong_login_error
    token = jwt.create_access_token_for_user(user, "secret")
    return UserInResponse(user=UserWithToken(username=user.username, email=user.email, token=token))


@router.post("", status_code=HTTP_201_CREATED, response_model=UserInResponse, name="auth:register")
async def register(
    user_create: UserInCreate = Body(..., embed=True, alias="user"),
    users_repo: UsersRepository = Depends(get_repository(UsersRepository)),
) -> UserInResponse:
    user = await users_repo.create_user(**user_create.model_dump())
    token = jwt.create_access_token_for_user(user, "secret")
    return UserInResponse(user=UserWithToken(username=user.username, email=user.email, token=token))

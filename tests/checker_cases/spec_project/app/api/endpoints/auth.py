from fastapi import APIRouter, Response, status

from app.api.deps import CurrentSession, CurrentUser
from app.schemas.user.request import LoginRequest, RegisterRequest
from app.schemas.user.response import UserMetadata, UserResponse
from app.services.auth import AuthService
from app.utils.auth import Authenticator

router = APIRouter()


@router.post("/register", response_model=UserResponse, status_code=status.HTTP_201_CREATED)
async def register(session: CurrentSession, data: RegisterRequest) -> UserResponse:
    user = await AuthService.register(session, data)
    return UserResponse.model_validate(user)


@router.post("/login", response_model=UserResponse)
async def login(session: CurrentSession, response: Response, data: LoginRequest) -> UserResponse:
    user = await AuthService.authenticate(session, data)
    user_metadata = UserMetadata.model_validate(user)
    access_token = Authenticator.create_access_token(data=user_metadata.model_dump(mode="json"))
    response.set_cookie(key="access_token", value=access_token, httponly=True, secure=True)
    return UserResponse.model_validate(user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(response: Response) -> None:
    response.delete_cookie("access_token")


@router.get("/me", response_model=UserMetadata)
async def me(user: CurrentUser) -> UserMetadata:
    return user

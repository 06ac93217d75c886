from pydantic import Field, model_validator

from app.schemas.base import CustomBaseModel


class RegisterRequest(CustomBaseModel):
    email: str
    password: str = Field(min_length=8)
    confirm_password: str

    @model_validator(mode="after")
    def passwords_match(self) -> "RegisterRequest":
        if self.password != self.confirm_password:
            raise ValueError("passwords do not match")
        return self


class LoginRequest(CustomBaseModel):
    email: str
    password: str

from pydantic import BaseModel

from app.services import security


class User(BaseModel):
    username: str
    email: str
    bio: str = ""


class UserInDB(User):
    id_: int = 0
    salt: str = ""
    hashed_password: str = ""

    def check_password(self, password: str) -> bool:
        return security.verify_password(self.salt + password, self.hashed_password)

    def change_password(self, password: str) -> None:
        self.salt = security.generate_salt()
        self.hashed_password = security.get_password_hash(self.salt + password)

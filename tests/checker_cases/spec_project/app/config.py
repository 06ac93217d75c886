from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    database_url: str = "postgresql+asyncpg://localhost/app"
    secret_key: str = "change-me"
    algorithm: str = "HS256"
    access_token_minutes: int = 30


settings = Settings()

from fastapi import HTTPException, status


class AppError:
    RESOURCES_NOT_FOUND_ERROR = HTTPException(
        status_code=status.HTTP_404_NOT_FOUND,
        detail="Resource not found",
    )
    INVALID_CREDENTIALS_ERROR = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Invalid credentials",
    )
    EMAIL_TAKEN_ERROR = HTTPException(
        status_code=status.HTTP_409_CONFLICT,
        detail="Email already registered",
    )

    @staticmethod
    def bad_request(detail: str) -> HTTPException:
        return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=detail)

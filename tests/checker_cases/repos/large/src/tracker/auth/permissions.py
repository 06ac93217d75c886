from collections.abc import Callable

from fastapi import HTTPException, Request


def any_permission(permissions: list[Callable[[Request], None]], request: Request) -> bool:
    for permission in permissions:
        try:
            permission(request)
            return True
        except HTTPException:
            pass
    return False

from fastapi import APIRouter

router = APIRouter(prefix="/utils", tags=["utils"])


@router.get("/health-check/")
async def health_check() -> bool:
    return True


def parse_port(value: str) -> int | None:
    try:
        return int(value)
    except ValueError, TypeError:  # expect: note
        return None

from fastapi import FastAPI

from app.api.api import api_router

app = FastAPI(title="Books")
app.include_router(api_router)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}

from fastapi import APIRouter

from app.api.endpoints import auth, books

api_router = APIRouter()
api_router.include_router(auth.router, tags=["Authentication"], prefix="/auth")
api_router.include_router(books.router, tags=["Book"], prefix="/books")

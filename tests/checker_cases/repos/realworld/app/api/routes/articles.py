from fastapi import APIRouter, Depends, Response
from starlette.status import HTTP_204_NO_CONTENT

from app.api.dependencies.database import get_repository
from app.db.repositories.articles import ArticlesRepository

router = APIRouter()


@router.delete("/{slug}", status_code=HTTP_204_NO_CONTENT, response_class=Response)
async def delete_article_by_slug(
    slug: str,
    articles_repo: ArticlesRepository = Depends(get_repository(ArticlesRepository)),
) -> None:
    await articles_repo.delete_article(slug=slug)


@router.get("/{slug}/raw")
async def raw_article(slug: str) -> Response:
    return Response(content=slug, media_type="text/plain")


@router.post("/{slug}/favorite", status_code=HTTP_204_NO_CONTENT)
async def favorite(slug: str, articles_repo: ArticlesRepository = Depends(get_repository(ArticlesRepository))):
    await articles_repo.add_favorite(slug=slug)

from alembic import op

revision = "fdf8821871d7"
down_revision = None


def upgrade() -> None:
    for table in ("users", "articles"):
        op.execute(f"CREATE TRIGGER update_{table}_modtime BEFORE UPDATE ON {table}")
        op.execute(f"INSERT INTO audit VALUES ('{table}')")

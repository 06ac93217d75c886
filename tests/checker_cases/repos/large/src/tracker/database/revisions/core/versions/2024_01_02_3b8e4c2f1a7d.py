from alembic import op

revision = "3b8e4c2f1a7d"
down_revision = "2c1d0e9f8a7b"


def upgrade() -> None:
    for schema, value in (("tracker_core", "open"),):
        op.execute(f"UPDATE {schema}.incident SET status = '{value}'")

"""Orders service settings (this file starts with a UTF-8 BOM)."""

DATABASE_DSN = "postgresql://orders@localhost/orders"
SCHEMA = "orders"

"""fastapi-example: users, items, roles, versions and token auth on FastAPI + SQLModel."""

__version__ = "1.0.0"

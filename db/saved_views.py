"""Saved views: a user's named task-list queries."""

from __future__ import annotations

import uuid
from typing import Any, Callable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .errors import Conflict
from .models import SavedView
from .serialize import iso


def view_json(view: SavedView) -> dict[str, Any]:
    return {"id": str(view.id), "name": view.name, "query": view.query, "created_at": iso(view.created_at)}


async def create_view(session, user_id: str, name: str, query: dict[str, str]) -> SavedView:
    try:
        async with session.begin_nested():
            row = (
                await session.execute(
                    insert(SavedView).values(id=uuid.uuid4(), user_id=user_id, name=name, query=query).returning(SavedView)
                )
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"you already have a view named {name!r}; delete it or pick another name",
                       field="name") from None
    return row


async def update_view(session, user_id: str, view_id: uuid.UUID,
                      change: Callable[[SavedView], tuple[str, dict[str, str]]]) -> SavedView | None:
    """Replace the view's name and query with `change(view)`, under a row lock; None if it is not the user's."""
    view = (
        await session.execute(
            select(SavedView).where(SavedView.id == view_id, SavedView.user_id == user_id).with_for_update()
        )
    ).scalar_one_or_none()
    if view is None:
        return None
    name, query = change(view)
    try:
        async with session.begin_nested():
            row = (
                await session.execute(
                    update(SavedView).where(SavedView.id == view_id).values(name=name, query=query)
                    .returning(SavedView).execution_options(populate_existing=True)
                )
            ).scalar_one()
    except IntegrityError:
        raise Conflict(f"you already have a view named {name!r}; delete it or pick another name",
                       field="name") from None
    return row


async def list_views(session, user_id: str) -> list[SavedView]:
    rows = await session.execute(select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name))
    return list(rows.scalars())


async def get_view(session, user_id: str, view_id: uuid.UUID) -> SavedView | None:
    return (
        await session.execute(select(SavedView).where(SavedView.id == view_id, SavedView.user_id == user_id))
    ).scalar_one_or_none()


async def delete_view(session, user_id: str, view_id: uuid.UUID) -> bool:
    result = await session.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == user_id))
    return bool(result.rowcount)

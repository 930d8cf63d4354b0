"""The driver's database and collection types as the store modules name them.

Only for type checking (motor's classes are not generic at run time): import them under
`if TYPE_CHECKING:`. A module of their own, so that the store's modules can name them
without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase

    Database = AsyncIOMotorDatabase[dict[str, Any]]
    Collection = AsyncIOMotorCollection[dict[str, Any]]

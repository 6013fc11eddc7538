"""Seeded, reproducible generators of example customer records and interaction logs.

Both generators yield :class:`Chunk` objects (rows plus the deliberate defects among
them) lazily, so a million rows never sit in memory at once, and the output for a
seed and set of arguments is identical whatever the chunk size. Pure standard
library: no pandas, pyarrow or numpy.

    from custrec.generate import generate_customers
    for chunk in generate_customers(1000, seed=7):
        for row in chunk.rows: ...
        for defect in chunk.defects: ...   # ground truth for validators
"""

from custrec.generate._common import (
    CUSTOMER_DEFECT_KINDS,
    DEFECT_KINDS,
    INTERACTION_DEFECT_KINDS,
    Chunk,
    Defect,
    Value,
)
from custrec.generate.customers import CUSTOMER_COLUMNS, generate_customers
from custrec.generate.interactions import INTERACTION_COLUMNS, generate_interactions

__all__ = [
    "CUSTOMER_COLUMNS",
    "CUSTOMER_DEFECT_KINDS",
    "DEFECT_KINDS",
    "INTERACTION_COLUMNS",
    "INTERACTION_DEFECT_KINDS",
    "Chunk",
    "Defect",
    "Value",
    "generate_customers",
    "generate_interactions",
]

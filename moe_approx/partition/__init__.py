"""Cell partitions of [0,1]^n and routing (docs/theory.md §2).

Every partition splits the cube into L boxes ("cells") and routes each point to exactly one:
cells are half-open, ``lo <= x < hi``, except that the face ``x_i = 1`` belongs to the cells
touching it. ``locate`` is vectorized and jitted; ``bounds(i)``/``all_bounds()`` give the boxes.
``router_params_active`` counts the router parameters one input touches (they are loaded
parameters, docs/theory.md §2) and ``router_params_total`` all of them.
"""

from .base import grid_router_params
from .dyadic import DyadicPartition
from .grid import GridPartition
from .prototype import PrototypePartition

# GridPartition, DyadicPartition and PrototypePartition are documented with the top-level names
__all__ = ["GridPartition", "DyadicPartition", "PrototypePartition", "grid_router_params"]

"""Widget explorers, one module per chapter.

Each explorer is split in two so the logic can be unit-tested without a
browser: a plain ``*_view(...)`` function that computes what the widget shows
(returns tensors and numbers), and a ``draw_*`` function that plots a view.
The notebook only wires ipywidgets controls to ``draw_*(…_view(...))``.
"""

from .context_extension import context_extension_view, draw_context_extension
from .integer_dimension import draw_integer_dimension, integer_dimension_view
from .learned_tables import draw_learned_tables, learned_tables_view
from .normalised_positions import draw_normalised_positions, normalised_positions_view
from .order_blindness import draw_order_blindness, order_blindness_view
from .positions_2d import draw_positions_2d, positions_2d_view
from .relative_positions import draw_relative_positions, relative_positions_view
from .rope import draw_rope, rope_view
from .sinusoids import draw_sinusoids, sinusoids_view

__all__ = [
    "order_blindness_view", "draw_order_blindness",
    "integer_dimension_view", "draw_integer_dimension",
    "normalised_positions_view", "draw_normalised_positions",
    "sinusoids_view", "draw_sinusoids",
    "learned_tables_view", "draw_learned_tables",
    "rope_view", "draw_rope",
    "relative_positions_view", "draw_relative_positions",
    "context_extension_view", "draw_context_extension",
    "positions_2d_view", "draw_positions_2d",
]

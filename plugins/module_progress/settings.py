"""``[module_progress]``: how often the figures behind the metrics are recomputed."""

from __future__ import annotations

import msgspec
from medlytt import PositiveFloat


class ProgressSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[module_progress]``."""

    #: Recompute the metrics' figures, and read a module's own activity events from the
    #: journal, this often.
    refresh_seconds: PositiveFloat = 60.0

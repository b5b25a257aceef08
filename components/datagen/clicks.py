"""The generator's click model on its own: position-biased examination times grade attraction.

Used to simulate users on a served ranking (online experiment tests and benchmarks) with the same
cascade-free examination model the search-log generator writes: P(click at p) = E(p) * A(grade).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from components.datagen.generate import ATTRACTION, EXAMINATION


def examination_at(position: int) -> float:
    """P(a user looks at 1-based `position`): the generator's 1 / p^0.85 bias, extended past its page."""
    return EXAMINATION[position - 1] if position <= len(EXAMINATION) else 1.0 / position**0.85


def simulate_clicks(grades: Sequence[int], rng: random.Random) -> list[int]:
    """1-based positions a simulated user clicks on a list whose true grades (0..3) are `grades`, in order."""
    return [pos for pos, grade in enumerate(grades, 1)
            if rng.random() < examination_at(pos) * ATTRACTION[max(0, min(3, int(grade)))]]

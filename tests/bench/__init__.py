"""`make bench` and its quick gates."""


def pct(values: list[float], q: float) -> float:
    """The q-th percentile by the nearest index into the sorted values, to 0.1."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)

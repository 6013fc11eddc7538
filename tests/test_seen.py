"""``custrec.seen.SeenValues`` against a plain dict: every verdict and every first label
equal the model's, with runs written out at any limit, for 8-byte hashes and for
16-byte tokens."""

from __future__ import annotations

import stat
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from custrec.seen import SeenValues


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), max_size=25), max_size=10),
    st.integers(1, 8),
    st.booleans(),
)
def test_first_labels_equal_a_dict_of_first_occurrences(
    batches: list[list[int]], limit: int, tokens: bool
) -> None:
    import numpy as np

    seen = SeenValues(limit=limit, dtype="S16" if tokens else None)
    model: dict[int, int] = {}
    label = 0
    try:
        for batch in batches:
            if tokens:  # 16-byte keys that differ in their last bytes only, or first
                keys = np.array([v.to_bytes(16, "little" if v % 2 else "big") for v in batch])
            else:
                keys = np.array(batch, dtype=np.uint64)
            labels = np.arange(label, label + len(batch), dtype=np.int64) * 7
            found, first = seen.first_labels(keys, labels)
            expected_found, expected_first = [], []
            for value, own in zip(batch, labels.tolist(), strict=True):
                expected_found.append(value in model)
                expected_first.append(model.get(value, -1))
                model.setdefault(value, own)
            assert found.tolist() == expected_found
            assert first.tolist() == expected_first
            label += len(batch)
    finally:
        directory = seen._directory
        if directory is not None:
            assert stat.S_IMODE(Path(directory).stat().st_mode) == 0o700
            assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in Path(directory).iterdir())
        seen.close()
        assert directory is None or not Path(directory).exists()

"""The garbage collector paused around allocation-heavy loops, and restored however the block ends."""

from __future__ import annotations

import gc

import pytest

from ground.allocation import gc_paused


def test_the_collector_is_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_exception_in_the_block_still_restores_the_collector() -> None:
    with pytest.raises(ValueError, match="boom"), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off_and_a_decorated_function_returns_its_value() -> None:
    @gc_paused()
    def paused_inside() -> bool:
        return not gc.isenabled()

    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert paused_inside() is True and gc.isenabled()

"""A process's follower of the model registry, on its own: it loads and serves what the pointer
names, once; a bundle that fails to load leaves the current model serving and is not tried
again until the pointer moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.serving_swap import ModelFollower


class Pointer:
    """Stands in for the registry: the bundle it serves, as the test sets it."""

    def __init__(self, bundle: Path | None) -> None:
        self.bundle = bundle

    def serving_bundle(self) -> Path | None:
        return self.bundle


def follower(pointer: Pointer, broken: set[Path]) -> tuple[ModelFollower, list[str], list[Any]]:
    """A follower serving v1 whose swaps are noted: each tried (loads), each done (served)."""
    loads: list[str] = []
    served: list[Any] = []

    def swap(bundle: Path | None) -> None:
        loads.append(str(bundle))
        if bundle in broken:
            raise OSError(f"{bundle} is not readable")
        served.append(bundle)

    registry: Any = pointer
    return ModelFollower(registry, Path("v1"), swap, check_seconds=60), loads, served


def test_a_moved_pointer_is_loaded_and_served_once() -> None:
    pointer = Pointer(Path("v1"))
    following, loads, served = follower(pointer, set())
    assert following.check() is False and loads == []
    pointer.bundle = Path("v2")
    assert following.check() is True
    assert following.check() is False  # served already: not loaded again
    assert loads == ["v2"] and served == [Path("v2")]
    pointer.bundle = None  # rolled back to CXAGENT_NLU_BUNDLE
    assert following.check() is True and following.serving is None


def test_a_bundle_that_fails_to_load_leaves_the_current_one_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pointer = Pointer(Path("broken"))
    following, loads, served = follower(pointer, {Path("broken")})
    assert following.check() is False
    assert following.check() is False
    assert loads == ["broken"] and served == [] and following.serving == Path("v1")
    assert "broken failed to load; the current model serves" in caplog.text
    pointer.bundle = Path("v2")
    assert following.check() is True and following.serving == Path("v2")

"""The driver contract tests teach plugin authors what the runner needs: a ``read()`` that
returns soon after ``context.stop``, and a ``close()`` that is safe after a failed ``open()``.
They pass for a driver that behaves and fail for one that does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from sensorfusion.testing import DriverContract


@pytest.fixture
def ticker(fault_plugins: Path) -> Any:
    import sfx_faults_plugin

    return sfx_faults_plugin.Ticker


class TestTickerContract(DriverContract):
    params: ClassVar[dict[str, Any]] = {"rate_hz": 100}
    failing_params: ClassVar[dict[str, Any] | None] = {"open_fails": True}
    plugin_name = "sfx_faults"
    deterministic_timestamps = True

    @pytest.fixture(autouse=True)
    def _driver_class(self, ticker: Any) -> None:
        type(self).driver_class = ticker


class _Blocking(DriverContract):
    params: ClassVar[dict[str, Any]] = {"rate_hz": 100, "block_after_stop": True}
    stop_within_s = 0.5


def test_contract_catches_a_read_that_ignores_stop(ticker: Any) -> None:
    contract = _Blocking()
    contract.driver_class = ticker
    with pytest.raises(AssertionError, match="did not return"):
        contract.test_read_returns_soon_after_stop()


def test_contract_catches_a_close_that_fails_after_a_failed_open(ticker: Any) -> None:
    class Brittle(ticker):  # type: ignore[misc, valid-type]
        def close(self) -> None:
            if not self.opened:
                raise AttributeError("'NoneType' object has no attribute 'release'")

    contract = _Blocking()
    contract.driver_class = Brittle
    contract.failing_params = {"open_fails": True}
    with pytest.raises(AttributeError):
        contract.test_close_after_a_failed_open()

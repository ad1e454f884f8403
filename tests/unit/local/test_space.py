"""The low-disk guard: the reserve it keeps, and a refusal that names the numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.errors import ItemError, UsageError
from syncd.local.space import DEFAULT_RESERVE, LowDiskSpace, SpaceGuard, free_bytes

GIB = 1 << 30


def test_the_default_is_one_gib_or_five_percent_whichever_is_less() -> None:
    guard = SpaceGuard()
    assert guard.reserve(100 * GIB) == GIB  # 5% would be 5 GiB
    assert guard.reserve(10 * GIB) == GIB // 2  # 5% of a small disk
    assert DEFAULT_RESERVE == GIB
    assert SpaceGuard("10%").reserve(10 * GIB) == GIB
    assert SpaceGuard(12345).reserve(10 * GIB) == 12345


def test_a_download_that_fits_passes_and_one_that_does_not_is_an_item_error(tmp_path: Path):
    st = os.statvfs(tmp_path)
    total = st.f_blocks * st.f_frsize
    SpaceGuard(0).check(tmp_path, 10**15, path="huge.bin")  # off: never refused
    SpaceGuard(1).check(tmp_path, 0, path="a.txt")
    with pytest.raises(LowDiskSpace) as info:
        SpaceGuard(total).check(tmp_path, 10, path="a.txt")
    error = info.value
    assert isinstance(error, ItemError) and error.exit_code == 1 and error.path == "a.txt"
    assert error.folder == tmp_path and error.free_needed == total + 10
    assert "(min_free_space)" in str(error) and "min_free_space" in (error.hint or "")
    free = free_bytes(tmp_path)
    assert free is not None and 0 < free <= total


def test_an_unknown_file_system_is_no_refusal(tmp_path: Path) -> None:
    SpaceGuard(10**15).check(tmp_path / "missing", 1, path="a.txt")
    assert free_bytes(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("2GiB", 2 * GIB), ("5%", "5%"), ("0.5%", "0.5%"), ("auto", None), ("off", 0), ("0", 0)],
)
def test_min_free_space_values(tmp_path: Path, text: str, value: object) -> None:
    env = {"HOME": str(tmp_path), "SYNCD_MIN_FREE_SPACE": text}
    assert load_settings({}, config_file=None, env=env).min_free_space == value


@pytest.mark.parametrize("text", ["lots", "100%", "-1%", "5x"])
def test_bad_min_free_space_names_its_source(tmp_path: Path, text: str) -> None:
    with pytest.raises(UsageError, match="--min-free-space: expected a size") as info:
        load_settings({"min_free_space": text}, config_file=None, env={"HOME": str(tmp_path)})
    assert "\n" not in str(info.value)


def test_the_file_takes_a_number_or_a_string(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("min_free_space = 1000000\n")
    settings = load_settings({}, config_file=config, env={"HOME": str(tmp_path)})
    assert settings.min_free_space == 1_000_000
    config.write_text("min_free_space = true\n")
    with pytest.raises(UsageError, match="min_free_space"):
        load_settings({}, config_file=config, env={"HOME": str(tmp_path)})


def test_downloads_in_flight_claim_their_bytes(tmp_path: Path) -> None:
    """Two transfers at once cannot both pass on the same free space (nothing is written:
    the claims are of gibibytes around the real free space, far from its drift)."""
    free = free_bytes(tmp_path)
    assert free is not None
    guard = SpaceGuard(max(0, free - 10 * GIB) or 1)
    if free < 11 * GIB:
        pytest.skip("needs some gibibytes free to measure around")
    with guard.claim(tmp_path, 6 * GIB, path="first.iso"):
        assert guard.claimed == 6 * GIB
        with (
            pytest.raises(LowDiskSpace, match="of other downloads under way"),
            guard.claim(tmp_path, 6 * GIB, path="second.iso"),
        ):
            pass
        assert guard.claimed == 6 * GIB
    assert guard.claimed == 0
    with guard.claim(tmp_path, 6 * GIB, path="second.iso"):
        pass  # the first one ended: its bytes are free again

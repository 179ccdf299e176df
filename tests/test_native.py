"""C sources build once per machine into the cache, and every way they cannot says why in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit import native

needs_cc = pytest.mark.skipif(native.compiler() is None, reason="no C compiler on this machine")

SOURCE = "int twice(int x) { return 2 * x; }\n"


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(native.DISABLE_ENV, raising=False)
    return tmp_path / "cache"


@needs_cc
def test_builds_once_loads_and_rebuilds_when_the_source_changes(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "k.c"
    src.write_text(SOURCE)
    assert native.load(src).twice(21) == 42
    built = native.library_path(src, native.compiler())
    assert built.is_file() and built.is_relative_to(cache / "native")
    stamp = built.stat().st_mtime_ns
    native.build(src)
    assert built.stat().st_mtime_ns == stamp  # reused, not rebuilt
    src.write_text(SOURCE.replace("2 * x", "3 * x"))
    assert native.library_path(src, native.compiler()) != built
    assert native.load(src).twice(2) == 6
    assert not list((cache / "native").glob("*.tmp"))


@needs_cc
def test_preprocessor_defines_make_a_library_of_their_own(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "k.c"
    src.write_text("#ifndef FACTOR\n#define FACTOR 2\n#endif\nint twice(int x) { return FACTOR * x; }\n")
    assert native.load(src).twice(5) == 10
    assert native.load(src, {"FACTOR": "7"}).twice(5) == 35
    cc = native.compiler()
    assert native.library_path(src, cc, {"FACTOR": "7"}) != native.library_path(src, cc)
    assert native.library_path(src, cc, {}) == native.library_path(src, cc)


@needs_cc
def test_a_source_that_does_not_compile_says_where(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "broken.c"
    src.write_text("int f( { return; }\n")
    with pytest.raises(native.NativeUnavailable, match=r"could not build broken\.c: .*broken\.c.*error"):
        native.build(src)
    assert not list((cache / "native").glob("*"))  # nothing half-built is left to load


def test_no_compiler(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("CC", "no-such-cc")
    src = tmp_path / "k.c"
    src.write_text(SOURCE)
    with pytest.raises(native.NativeUnavailable, match="no C compiler found"):
        native.load(src)


def test_switched_off(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert native.disabled()
    with pytest.raises(native.NativeUnavailable, match="turned off"):
        native.load(tmp_path / "k.c")
    monkeypatch.setenv(native.DISABLE_ENV, "1")
    assert not native.disabled()


def test_the_instruction_set_target_can_be_chosen_and_keys_the_build(monkeypatch, tmp_path) -> None:
    source = tmp_path / "k.c"
    source.write_text("int f(void) { return 1; }\n")
    native_path = native.library_path(source, "cc")
    monkeypatch.setenv(native.MARCH_ENV, "x86-64-v3")
    assert "-march=x86-64-v3" in native.flags()
    assert native.library_path(source, "cc") != native_path  # another target, another library in the cache

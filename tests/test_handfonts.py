"""digitsum.data.handfonts: pinned, verified fonts from the npm registry, and their digits. How the
digits are stored (MNIST's box, centred, ink) is checked with every pool source in
tests/test_strokedigits.py."""
import base64
import hashlib
import io
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from digitsum.data import handfonts
from digitsum.errors import DataError
from digitsum.data.fontdigits import upright_digit
from handfontcheck import hand_fonts_or_skip
from train.main import cli as train_main


def tarball(files: dict[str, bytes]) -> bytes:
    """A .tgz laid out as npm packs one (everything under package/)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


PACKAGE = tarball({"package.json": b"{}", "files/scrawl-latin-400-normal.woff": b"wOFF the font",
                   "files/scrawl-latin-700-normal.woff": b"wOFF bold, not kept"})
PIN = ("scrawl", "1.0.0", integrity(PACKAGE))


def test_a_tampered_tarball_is_refused_and_nothing_is_kept(tmp_path, monkeypatch):
    tampered = tarball({"package.json": b"{}", "files/scrawl-latin-400-normal.woff": b"wOFF another font"})
    monkeypatch.setattr(handfonts, "download", lambda name, version: tampered)
    with pytest.raises(DataError, match=r"@fontsource/scrawl@1.0.0: .* does not match its pinned sha512 integrity"):
        handfonts.fetch(tmp_path, fonts=[PIN])
    assert list(tmp_path.iterdir()) == []            # neither the font nor a temporary file


def test_a_verified_tarball_gives_its_latin_400_woff_once(tmp_path, monkeypatch):
    downloads = []
    monkeypatch.setattr(handfonts, "download", lambda name, version: downloads.append(name) or PACKAGE)
    paths = handfonts.fetch(tmp_path, fonts=[PIN])
    assert [p.name for p in tmp_path.iterdir()] == ["scrawl-1.0.0-latin-400-normal.woff"]
    assert paths[0].read_bytes() == b"wOFF the font"
    assert handfonts.fetch(tmp_path, fonts=[PIN]) == paths and downloads == ["scrawl"]   # idempotent


def test_an_unreachable_registry_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(handfonts, "REGISTRY", "http://127.0.0.1:9")   # the discard port: nothing listens
    with pytest.raises(handfonts.RegistryUnreachable, match="cannot fetch the handwriting fonts: the npm registry") as e:
        handfonts.fetch(tmp_path, fonts=[PIN])
    assert "\n" not in str(e.value) and list(tmp_path.iterdir()) == []


def test_a_registry_that_answers_without_the_tarball_is_an_error_not_a_skip(tmp_path, monkeypatch):
    def not_found(url, timeout):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(DataError, match="@fontsource/scrawl@1.0.0: the npm registry answered 404 Not Found") as e:
        handfonts.fetch(tmp_path, fonts=[PIN])
    assert not isinstance(e.value, handfonts.RegistryUnreachable)   # a broken pin fails the tests that need it


def test_the_pins_are_whole_sha512_digests_of_distinct_fonts():
    names = [name for name, _, _ in handfonts.HAND_FONTS]
    assert 10 <= len(names) <= 20 and len(set(names)) == len(names)
    assert not any("hershey" in n for n in names)                     # the suite's `drawn` set stays unseen
    for _, version, pin in handfonts.HAND_FONTS:
        assert pin.startswith("sha512-") and len(base64.b64decode(pin[7:])) == 64 and version.count(".") == 2


def upright_templates() -> tuple[np.ndarray, np.ndarray]:
    """Every font's ten digits drawn plainly (no weight, slant or rotation) -> (images, labels)."""
    images = [upright_digit(str(d), font) for font in handfonts.hand_fonts() for d in range(10)]
    return np.stack(images), np.tile(np.arange(10), len(images) // 10)


def test_hand_digits_are_deterministic_and_their_labels_match():
    hand_fonts_or_skip()
    a, la = handfonts.render_hand_digits(200, seed=1)
    b, lb = handfonts.render_hand_digits(200, seed=1)
    c, _ = handfonts.render_hand_digits(200, seed=2)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and not np.array_equal(a, c)
    # each image is its label's digit: its nearest upright glyph (by correlation) is mostly one of that
    # digit (about 80%: random weight, slant and rotation move the rest away); labels off by one place
    # would match about 8%
    templates, tlabels = upright_templates()
    def unit(x):
        x = x.reshape(len(x), -1).astype(np.float64)
        x -= x.mean(1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    nearest = tlabels[(unit(a) @ unit(templates).T).argmax(1)]
    assert (nearest == la).mean() > 0.6


def test_training_with_hand_digits_and_no_way_to_the_fonts_stops_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(handfonts, "CACHE", tmp_path / "no-fonts")
    monkeypatch.setattr(handfonts, "REGISTRY", "http://127.0.0.1:9")
    code = train_main(["--threads", "1", "--batch-size", "4", "--synthetic-fraction", "1", "--steps", "2",
                       "--hand-digits", "0.2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("error: cannot fetch the handwriting fonts: the npm registry"), err


@pytest.mark.parametrize("flags, message", [
    (["--hand-digits", "1"], "argument --hand-digits: must be in [0, 1)"),
    (["--hand-digits", "-0.1"], "argument --hand-digits: must be in [0, 1)"),
    (["--hand-digits", "0.5", "--font-digits", "0.3", "--style-digits", "0.2"], "together must leave room for MNIST"),
])
def test_hand_digit_shares_are_checked_like_the_others(flags, message, tmp_path, capsys):
    code = train_main(["--synthetic-fraction", "1", "--steps", "2", "--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines() == [err.splitlines()[0]] and message in err, err

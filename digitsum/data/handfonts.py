"""Handwriting-font digits for training: the ten digits of handwriting fonts from the npm registry
(Google Fonts' handwriting fonts as Fontsource's `@fontsource/<name>` packages), rendered as MNIST
stores digits by `fontdigits`' renderer (random weight, slant, rotation; `to_mnist_box`).

Each font is pinned by package, version and the tarball's sha512 `integrity` from the registry's
metadata, so anyone fetches the same bytes, and a tarball that does not match is refused. `fetch`
keeps only each package's latin-400 .woff (Pillow's FreeType opens woff), in
`.cache/digitsum/hand-fonts/` under the repo; `./run train` and `./run test` fetch them once, and
so does `python -m digitsum fetch-hand-fonts`. None is a Hershey font: those are the robustness
suite's `drawn` set, which stays unseen.

The 20 kept were chosen among 46 Fontsource handwriting fonts by looking at each one's ten digits
(scripts/hand_fonts_montage.py): ordinary handwritten digits, pen and marker, print and cursive.
Dropped:
- old-style figures: bad-script (small 0-2, cursive 3-9 below the line);
- printed rather than written (matplotlib's fonts give printed shapes already): comic-neue, delius,
  itim, happy-monkey, playpen-sans, shantell-sans, short-stack, neucha, poor-story, chilanka,
  yomogi, zen-kurenaido, sriracha (a bold italic), freehand (an italic print);
- decorative: amatic-sc (condensed to slits: its 0 a sliver, its 7 a slash), finger-paint (broken
  paint strokes), swanky-and-moo-moo (7's bar runs into the next digit, 5 and 6 wider than tall);
- the same digits as another: zhi-mang-xing and ma-shan-zheng (one set of brush digits between
  them, 1% mean pixel difference), caveat-brush (Caveat's design with a brush; the renderer varies
  the weight already), nanum-brush-script (Nanum Pen Script's family, in brush);
- ordinary, but left out to stay at 20: gloria-hallelujah, mansalva and delicious-handrawn (bold
  felt-pen digits, as the kept gochi-hand, permanent-marker and covered-by-your-grace have), and
  long-cang (a brush print).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import ImageFont

from digitsum.errors import DataError
from digitsum.data.fontdigits import render_digits

REGISTRY = "https://registry.npmjs.org"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "digitsum" / "hand-fonts"   # the repository's .cache
DIGIT_HEIGHT = 42   # px: each font is sized so its tallest digit is as tall as matplotlib fonts' at 56 px
TIMEOUT = 30        # s per request: a registry that does not answer fails in one line, not a hang


class RegistryUnreachable(DataError):
    """The registry did not answer: unlike a tarball that fails its check, the fonts may come later
    (tests skip on this, and on this alone)."""


# (package under @fontsource, version, the tarball's `dist.integrity` in the registry's metadata)
HAND_FONTS = (
    ("caveat", "5.3.0", "sha512-eHTfzQxFSW9ABERRLNruHoNJmKed2J7pqTUc5lp4a4POMgXGKpxmWj3d9Hz10kmAg6iuTTLe6UagbA4bnsmfQw=="),
    ("kalam", "5.3.0", "sha512-FDkVoDfPDCSN/eO81FOYtUI67eMgpVBJmjBtAqSL0PmEhJyeFY2biC+CR+yEttksgXR9+swpFdYmQTyjwBq80Q=="),
    ("patrick-hand", "5.3.0", "sha512-V8C38IlIFfdWg0Xtri3F7sLCVpm069rUwn6w4n+oyn38gt7H4arOJmuReg3tAw1Q6jHqZp89wTnAAJagq4Atxw=="),
    ("indie-flower", "5.3.0", "sha512-Wo5eN/ruEQcyC3+ArzhlpqWQgph3VuCNbJlEkVw17LUd0uyTHOb9bTec4g9njQzjiL/ijACF27sSwy90L6kZBg=="),
    ("gochi-hand", "5.3.0", "sha512-IW6Xo3wbZuTLyx7hZzIr7+VSQwQ3oEiLZRphBnuNVaK+dhdxwYw57/r1NVi8x1ubX4OYyCG2S04mH6tLhanIsQ=="),
    ("handlee", "5.3.0", "sha512-bginDzMq4WhtYCcCR5O/WUh6mjXgZ17miwY4mSCR6+Z5iXaUGc71GuFHdFKsZBTO+9CZqRRfXaGtTSz4IIf29Q=="),
    ("shadows-into-light", "5.3.0", "sha512-3dvv0i8/ZwLMY08AAlTLivHUdNQYB6Fxe92d7BZiGbHY2GQnCxEd8JC9CBzxTiP4iyWNa6OZn9LXF+xjc9LaGw=="),
    ("architects-daughter", "5.3.0", "sha512-uezOgAlbhmf9nDW69VYq31lXNA+0uRFWXBGCSFWLXVcrNESFHpNjvu11kJss1PMsfH/YKz1hnnYB+JSNI/t+ew=="),
    ("schoolbell", "5.3.0", "sha512-7AWeUHHTiLIKz2V8d0fuG7mw8tlEoQ8Z8dtTpXTEs9hE2z6YFe1RjCCFtYuaSuPLZqYNVqzQ7owG/xJpTyY55w=="),
    ("reenie-beanie", "5.3.0", "sha512-PgEiqKdPCLlvdY2IMWMBdYyMdr1mo1zxVBRNFlo3gclnCz560iiyTTt0dU4/VIGnjhyAb3gSWIQL0qXnn5oaYw=="),
    ("covered-by-your-grace", "5.3.0", "sha512-QurmStAERGPv2vbl1Lxe76IWsYzXiZXz7lkxbw5x9OT84EAih8PmBkdWxatO7dj37UsInic30MA/EKpJ58bmtw=="),
    ("sue-ellen-francisco", "5.3.0", "sha512-cwzU21In+AcbXarvXqFrsTC9GEqMUvm3lHuNmu3DfcNkUcBIGUAL0tr5OklYJiHzuM4aJiZF1nj4gQN51Ri71Q=="),
    ("nanum-pen-script", "5.3.0", "sha512-at9MFL8ga0A3Xce1+CO6/56F/SHIlf++D4vVKw3yCNRPKh6JU0UgZ3r9un0qHPVxx0Miq2bGZ35RRRlu/4BIDg=="),
    ("gaegu", "5.3.0", "sha512-eSVEXay02/DAB5BtH/gpsujvpT78EjO6XVuNA1ap1G+xvr3zokU2HoLoaW+CfzykRuVgDQ2oZ1oe7VAlmGZt/A=="),
    ("rock-salt", "5.3.0", "sha512-3Zy0QtrDbq5jrAoMz1I3fXSitSpD46m6S+5W/+hfTZtpbxq9YAC1QoXkwUYDQxtfc8O0k8Qtl76gULQ+uCMznQ=="),
    ("permanent-marker", "5.3.0", "sha512-ZO/NtYW4SCc/iY8N3dmjWyDITcXJ/vhWZFgnwRcvzwCKKnScMrM/a2/6VHlsjCVuIgmPzNrCFbedEYhv+/jJBg=="),
    ("homemade-apple", "5.3.0", "sha512-awJSYTbSY3SroC8nirEhDauHvERVvm0LI3FpUHsPZXl9Tht1xrqhiI8ro4yf3ROcvQ7CfFJ/2+DLcOHBOXhJKw=="),
    ("annie-use-your-telescope", "5.3.0", "sha512-FKBTv9j8AMRlHGRtTTSF3NYWs/0MVfOZzpvgp5phBVW+zAzh1iC+uglKiPYCYNy0T+Cr4wyREqVezYpHxQuskw=="),
    ("the-girl-next-door", "5.3.0", "sha512-ysHz6+NKIRzT7z++4TrDb6sTd6GvyItwFukOBxT7fmGS87NEkiBaq86gNXqaTiaBGZ9X0Jyryx9dHHNagAeHHw=="),
    ("cedarville-cursive", "5.3.0", "sha512-wHP/LV0JvHoZRpfNAnDa9p9dAjIqB0gaG44MLs4+MsuQhL3i6+zGDTmxvxMx4bRe6r/HkChxIaMxjWOfjfSdGg=="),
)


def cache_folder(folder=None) -> Path:
    """`folder`, or CACHE as it is now (read at each call, so a test can point it elsewhere)."""
    return Path(folder) if folder is not None else CACHE


def font_path(name: str, version: str, folder=None) -> Path:
    """Where a font's woff is cached: named with its version, so a new pin is fetched anew."""
    return cache_folder(folder) / f"{name}-{version}-latin-400-normal.woff"


def missing(folder=None, fonts=HAND_FONTS) -> list[tuple[str, str, str]]:
    return [f for f in fonts if not font_path(f[0], f[1], folder).is_file()]


def fetch(folder=None, fonts=HAND_FONTS, say=None) -> list[Path]:
    """Download, verify and unpack each font not yet in `folder` (default CACHE) -> every font's
    path. Idempotent: nothing is downloaded when all are there. Raises, in one line,
    RegistryUnreachable when the registry does not answer, DataError when it has no such tarball or
    the tarball does not match its pinned integrity."""
    todo = missing(folder, fonts)
    if todo and say:
        say(f"fetching {len(todo)} handwriting font(s) from the npm registry into {cache_folder(folder)}")
    for name, version, integrity in todo:
        data = verified(download(name, version), integrity, f"@fontsource/{name}@{version}")
        write_atomic(font_path(name, version, folder), woff_from_tarball(data, name))
    return [font_path(name, version, folder) for name, version, _ in fonts]


def tarball_url(name: str, version: str) -> str:
    return f"{REGISTRY}/@fontsource/{name}/-/{name}-{version}.tgz"


def download(name: str, version: str) -> bytes:
    url = tarball_url(name, version)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as e:   # it answered, without the tarball: a pin gone wrong, not the network
        raise DataError(f"@fontsource/{name}@{version}: the npm registry answered {e.code} {e.reason} "
                        f"for {url}") from None
    except (urllib.error.URLError, OSError) as e:   # no network, DNS, refused, timeout, a reset mid-download
        why = getattr(e, "reason", None) or e
        raise RegistryUnreachable(f"cannot fetch the handwriting fonts: the npm registry ({REGISTRY}) did not "
                                  f"give {url} ({why})") from None


def verified(data: bytes, integrity: str, what: str) -> bytes:
    """`data` if its digest is the pinned one (npm's Subresource Integrity form, "sha512-<base64>")."""
    algorithm, _, digest = integrity.partition("-")
    if hashlib.new(algorithm, data).digest() != base64.b64decode(digest):
        raise DataError(f"{what}: the downloaded tarball does not match its pinned {algorithm} integrity; refused")
    return data


def woff_from_tarball(data: bytes, name: str) -> bytes:
    """The latin-400 woff of a Fontsource tarball (the only file kept)."""
    member = f"package/files/{name}-latin-400-normal.woff"
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return tar.extractfile(member).read()
    except (tarfile.TarError, KeyError, AttributeError) as e:
        raise DataError(f"@fontsource/{name}: no {member} in its tarball ({e})") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Whole or not at all (digitsum.storage.atomic): a run killed mid-write, or two ranks fetching at
    once, leave no half font; a read-only checkout or a full disk is one line, like the registry's failure."""
    from digitsum.storage.atomic import write_file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data)
    except OSError as e:
        raise DataError(f"cannot write the handwriting fonts into {path.parent} ({e.strerror or e})") from None


@functools.lru_cache(maxsize=None)
def load_font(path: str) -> ImageFont.FreeTypeFont:
    """The font at the size where its tallest digit is DIGIT_HEIGHT px: handwriting fonts' digits
    range from half to most of the em, and the stroke widths the renderer adds are in px."""
    probe = ImageFont.truetype(path, 100)
    tallest = max(probe.getbbox(str(d))[3] - probe.getbbox(str(d))[1] for d in range(10))
    return ImageFont.truetype(path, max(8, round(100 * DIGIT_HEIGHT / tallest)))


def hand_fonts(folder=None) -> list[ImageFont.FreeTypeFont]:
    if missing(folder):
        raise DataError(f"the handwriting fonts are not in {cache_folder(folder)}: fetch them with "
                        "python -m digitsum fetch-hand-fonts (./run train and ./run test fetch them)")
    return [load_font(str(font_path(name, version, folder))) for name, version, _ in HAND_FONTS]


def render_hand_digits(n: int, seed: int = 0, folder=None) -> tuple[np.ndarray, np.ndarray]:
    """-> (images (n, 28, 28) uint8 white on black, labels (n,) int64), every font equally likely,
    deterministic for (n, seed). Raises DataError when the fonts are not fetched."""
    return render_digits(hand_fonts(folder), n, np.random.default_rng([seed, 40_404]), centred=True)

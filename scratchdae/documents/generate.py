r"""Synthetic dirty documents in the layout of Kaggle's Denoising Dirty Documents.

A page is 540 px wide and 258 or 420 px high. The clean page is dark text on
white paper; the noisy page puts the same text on damaged paper:

    noisy = paper * (1 - faded_ink) + sensor noise,      clean = 1 - ink,

where ``ink`` is the glyph coverage times the ink's darkness, ``faded_ink``
the same ink faded and blurred, and ``paper`` one of eight backgrounds, two of
each family (coffee stains, folded pages, watermarks, crumpled or wrinkled
paper), sometimes with faded sun spots. Text comes in three font families
(serif, sans, monospace/typewriter), regular, bold or italic, in footnote,
normal and large sizes, from the fonts that ship with matplotlib, so that a
seed gives the same page on every machine. Everything is drawn from one seed
per page.
"""
import errno
import json
import numbers
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import alive, atomic_write, check_folder, current_umask, make_folder, write_png
from ..validation import as_int
from .filters import gaussian_blur, max_filter, resize

WIDTH, HEIGHTS = 540, (258, 420)
MAX_PAGES = 100_000  # per folder or training run: about 25 GB of pages
FONT_FAMILIES = ("serif", "sans", "mono")
BACKGROUNDS = ("coffee", "folded", "watermark", "wrinkled")
SIZES = {"footnote": (13, 15), "normal": (16, 20), "large": (23, 28)}  # pixel heights of the font
WIDE_SIZES = {"small": (9, 12), "huge": (30, 44)}  # more sizes for ``wide_sizes``: 0.7x to 1.6x of the above

WORDS = (
    "the of and to in is was that for on are with as by this be from at or an have not which were but had "
    "all their has its been one more also other some into them these than only new time about may first "
    "any each such two most after between over under state system report office paper page record value "
    "number study method result data model noise clean image figure table section chapter letter account "
    "department committee evidence analysis measure sample material process change period general public "
    "water river market country history science student teacher machine learning document archive copy "
    "printed typewriter shipment invoice receipt balance payment total amount received signed dated"
).split()


@dataclass(frozen=True)
class Font:
    """A TrueType font file: its family (serif, sans, mono), its style (regular, bold, italic) and its path."""

    family: str
    style: str
    path: str

    @property
    def name(self) -> str:
        """The file name without its suffix, e.g. DejaVuSans-Bold: the font's name in the manifest."""
        return Path(self.path).stem


def _matplotlib_fonts():
    import matplotlib

    d = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    table = {
        "sans": {"regular": ["DejaVuSans", "cmss10"], "bold": ["DejaVuSans-Bold"], "italic": ["DejaVuSans-Oblique"]},
        "serif": {"regular": ["DejaVuSerif", "STIXGeneral", "cmr10"], "bold": ["DejaVuSerif-Bold", "STIXGeneralBol",
                                                                             "cmb10"],
                  "italic": ["DejaVuSerif-Italic", "STIXGeneralItalic", "cmti10"]},
        "mono": {"regular": ["DejaVuSansMono", "cmtt10"], "bold": ["DejaVuSansMono-Bold"],
                 "italic": ["DejaVuSansMono-Oblique"]},
    }
    return [Font(fam, style, str(d / f"{n}.ttf")) for fam, styles in table.items() for style, names in styles.items()
            for n in names if (d / f"{n}.ttf").is_file()]


_FONTS = []


def available_fonts() -> list[Font]:
    """Every usable font, as Font(family, style, path): those that ship with matplotlib, the same on
    every machine (so a seed gives the same page everywhere)."""
    if not _FONTS:
        seen = set()
        for f in _matplotlib_fonts():
            if f.name not in seen:
                seen.add(f.name)
                _FONTS.append(f)
    return _FONTS


# -- text -------------------------------------------------------------------------------

def _sentence(rng):
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(5, 14))]
    words[0] = words[0].capitalize()
    if rng.random() < 0.2:
        words.insert(int(rng.integers(1, len(words))), str(int(rng.integers(2, 2000))))
    return " ".join(words) + rng.choice([".", ".", ".", ",", ";", ":"])


def render_ink(rng: np.random.Generator, height: int, width: int, font: Font, size: float, scale: int = 1,
               weight: int = 0) -> np.ndarray:
    """Glyph coverage in [0, 1] (H, W): paragraphs of text in one font and size.

    With ``scale`` > 1 the page is drawn that many times larger and shrunk back, so a size may fall
    between whole pixels and the strokes' edges are grey, as on a scan; ``weight`` pixels of that
    large drawing are added to every stroke's edge (negative: taken away), a heavier or lighter hand.
    """
    from PIL import Image, ImageDraw, ImageFont

    pil_font = ImageFont.truetype(font.path, int(round(size * scale)))
    img = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(img)
    length = lambda text: draw.textlength(text, font=pil_font) / scale  # noqa: E731  in page pixels
    margin = int(rng.integers(15, 40))
    line_h = int(size * rng.uniform(1.15, 1.5))
    y = int(rng.integers(8, 30))
    while y + line_h < height - 5:
        words = " ".join(_sentence(rng) for _ in range(int(rng.integers(2, 6)))).split()
        x = margin + (int(size * 1.5) if rng.random() < 0.5 else 0)  # indented first line, or not
        for w in words:
            wlen = length(w + " ")
            if x + length(w) > width - margin:
                y += line_h
                x = margin
                if y + line_h >= height - 5:
                    break
            draw.text((x * scale, y * scale), w, fill=255, font=pil_font, stroke_width=max(weight, 0),
                      stroke_fill=255)
            x += wlen
        y += int(line_h * rng.uniform(1.6, 2.2))  # paragraph break
    coverage = np.asarray(img, dtype=np.float32) / 255
    if weight < 0:  # thinner strokes: the drawing's ink eroded (the paper's max filter)
        coverage = 1 - max_filter(1 - coverage, 1 - 2 * weight)
    if scale > 1:  # back to page pixels: each the mean of its scale x scale block
        coverage = coverage.reshape(height, scale, width, scale).mean(axis=(1, 3))
    return coverage


# -- paper: eight backgrounds, two of each family -------------------------------------------

def _smooth_field(rng, height, width, cells):
    """Smooth noise in about [-1, 1]: a random grid of cells x cells, upsampled."""
    ch = max(2, int(cells * height / width))
    return resize(rng.standard_normal((ch, cells)).astype(np.float32), height, width) / 1.5


def _coffee(rng, H, W, variant):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    paper, marks = np.ones((H, W), np.float32), np.zeros((H, W), np.float32)
    n = int(rng.integers(1, 4)) if variant == 0 else int(rng.integers(8, 25))
    for _ in range(n):
        cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        r = rng.uniform(40, 130) if variant == 0 else rng.uniform(4, 25)
        angle = np.arctan2(yy - cy, xx - cx)
        wobble = 1 + 0.15 * np.sin(3 * angle + rng.uniform(0, 6)) + 0.08 * np.sin(7 * angle + rng.uniform(0, 6))
        d = np.hypot(yy - cy, xx - cx) / (r * wobble)  # < 1 inside the stain
        depth = rng.uniform(0.15, 0.45)
        body = depth * 0.6 * np.clip(1 - d, 0, 1) ** 0.3
        ring = depth * np.exp(-((d - 1) / 0.06) ** 2) if variant == 0 else 0.0  # a dried ring at the edge
        paper -= body + ring
        marks = np.maximum(marks, ring / depth)  # the ring's rim: a thin dark line that is not text
    return paper, marks


def _folded(rng, H, W, variant):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    paper, marks = np.ones((H, W), np.float32), np.zeros((H, W), np.float32)
    for _ in range(int(rng.integers(1, 3))):
        if variant == 0:  # a crease across the page: a dark line with shading falling away from it
            theta = rng.uniform(0, np.pi)
            c = rng.uniform(0.25, 0.75)
            dist = (xx - c * W) * np.cos(theta) + (yy - c * H) * np.sin(theta)
            depth = rng.uniform(0.2, 0.45)
            crease = np.exp(-(dist / rng.uniform(1.0, 2.5)) ** 2)
            paper -= depth * crease
            marks = np.maximum(marks, crease)
            paper -= rng.uniform(0.05, 0.2) * np.exp(-np.abs(dist) / rng.uniform(15, 60)) * (dist > 0)
        else:  # a dog-eared corner: a darker triangle with a bright edge
            cy, cx = rng.choice([0, H]), rng.choice([0, W])
            size = rng.uniform(60, 160)
            dist = np.abs(yy - cy) + np.abs(xx - cx) - size
            edge = np.exp(-(dist / 2) ** 2)
            paper -= rng.uniform(0.2, 0.4) * (dist < 0) + rng.uniform(0.1, 0.3) * edge
            depth = 0.1 * rng.uniform(0.3, 1)
            fold = np.abs(yy - rng.uniform(0, H)) < 1.5
            paper -= depth * fold  # and a faint fold line
            marks = np.maximum(marks, np.maximum(edge, fold))
    return paper, marks


def _watermark(rng, H, W, variant):
    from PIL import Image, ImageDraw, ImageFont

    big = Image.new("L", (2 * W, 2 * H), 0)
    draw = ImageDraw.Draw(big)
    if variant == 0:  # repeated faint words, rotated
        font = ImageFont.truetype(available_fonts()[0].path, int(rng.integers(30, 60)))
        word = str(rng.choice(["CONFIDENTIAL", "DRAFT", "COPY", "ARCHIVE", "SAMPLE"]))
        step = int(rng.integers(90, 160))
        for y in range(0, 2 * H, step):
            draw.text((int(rng.integers(0, 80)), y), ("  " + word) * 6, fill=255, font=font)
        mark = big.rotate(rng.uniform(20, 50), resample=Image.BILINEAR).crop((W // 2, H // 2, W // 2 + W, H // 2 + H))
    else:  # a large seal of rings and rays
        cx, cy, r = W + rng.uniform(-W / 3, W / 3), H + rng.uniform(-H / 3, H / 3), rng.uniform(70, 150)
        for k in range(int(rng.integers(2, 5))):
            rr = r * (1 - 0.2 * k)
            draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=255, width=int(rng.integers(3, 9)))
        for a in np.linspace(0, 2 * np.pi, int(rng.integers(8, 20)), endpoint=False):
            draw.line((cx, cy, cx + r * np.cos(a), cy + r * np.sin(a)), fill=255, width=3)
        mark = big.crop((W // 2, H // 2, W // 2 + W, H // 2 + H))
    m = gaussian_blur(np.asarray(mark, dtype=np.float32) / 255, 1.5)
    return 1 - rng.uniform(0.12, 0.3) * m, m  # words and a seal's rings and rays: marks that are not text


def _wrinkled(rng, H, W, variant):
    if variant == 0:  # crumpled: creases where a smooth field crosses zero, shading between them
        f = _smooth_field(rng, H, W, int(rng.integers(6, 12)))
        ridges = np.exp(-(f / 0.06) ** 2)
        return 1 - rng.uniform(0.1, 0.25) * ridges - rng.uniform(0.05, 0.15) * (f + 1) / 2, ridges
    f = sum(_smooth_field(rng, H, W, c) for c in (20, 40))  # fine wrinkles: a texture, not lines
    return 1 - rng.uniform(0.1, 0.2) * np.abs(f) - 0.05 * rng.random(), np.zeros((H, W), np.float32)


BACKGROUND_MAKERS = {"coffee": _coffee, "folded": _folded, "watermark": _watermark, "wrinkled": _wrinkled}


def paper(rng: np.random.Generator, height: int, width: int, background: str, variant: int,
          sun_spots: bool) -> tuple[np.ndarray, np.ndarray]:
    """A background (H, W) in about [0.3, 1] (1 is clean white paper), and where it drew thin dark marks
    that are not text (stain rims, creases, ridges, watermarks): an (H, W) intensity in [0, 1]."""
    p, marks = BACKGROUND_MAKERS[background](rng, height, width, variant)
    p *= rng.uniform(0.8, 1.0)  # the paper's own tone
    p += 0.04 * _smooth_field(rng, height, width, 4)  # uneven lighting
    if sun_spots:  # faded sun spots: broad bright and dark patches
        p += rng.uniform(0.05, 0.15) * _smooth_field(rng, height, width, 3)
    return np.clip(p, 0.25, 1.0), marks


# -- pages --------------------------------------------------------------------------------

@dataclass
class Page:
    """A generated page: the noisy and the clean image, uint8 (H, W), and ``meta``, what it was drawn
    with (seed, font, size, background, ...), as recorded in manifest.json."""

    noisy: np.ndarray  # uint8 (H, W)
    clean: np.ndarray  # uint8 (H, W)
    meta: dict
    marks: np.ndarray | None = None  # bool (H, W): pixels within 2 of a mark that is not text (rims, creases)

    def floats(self) -> tuple[np.ndarray, np.ndarray]:
        """(noisy, clean) as float32 in [0, 1], the pair the model and the scores take."""
        return self.noisy / np.float32(255), self.clean / np.float32(255)


def make_page(seed: int | Sequence[int], *, fonts: Sequence[str] = FONT_FAMILIES,
              backgrounds: Sequence[str] = BACKGROUNDS, height: int | None = None, variety: bool = False,
              clutter: bool = False, wide_sizes: bool = False) -> Page:
    """One (noisy, clean) pair from a seed; ``fonts`` and ``backgrounds`` restrict the families drawn.

    ``variety`` draws the text with more of what varies between real pages: any size in the size's
    range (not only whole pixels; the page drawn 3x larger and shrunk), strokes a third of a pixel
    heavier or lighter, and on the noisy page ink that bled into the paper around the strokes. It draws
    from its own random numbers, so a seed's page without it is the same to the last bit. ``clutter`` adds
    to the noisy page marks that are not text and that no background draws (:func:`clutter_marks`), from
    random numbers of its own too. ``wide_sizes`` draws the text's size from :data:`WIDE_SIZES` too
    (9 to 44 pixels instead of 13 to 28), from its own random numbers as well."""
    parts = [seed] if isinstance(seed, numbers.Integral) else list(seed) if isinstance(seed, (list, tuple)) else None
    if parts is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in parts):
        raise ValueError(f"a page's seed must be an integer >= 0 or a list of them, got {seed!r}. Fix: make_page(0).")
    for name, flag in (("variety", variety), ("clutter", clutter), ("wide_sizes", wide_sizes)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}.")
    rng = np.random.default_rng(seed)
    choices = [f for f in available_fonts() if f.family in fonts]
    if not choices:
        raise ValueError(f"no font of the families {list(fonts)} is available; families: {FONT_FAMILIES}.")
    bad = set(backgrounds) - set(BACKGROUNDS)
    if bad or not backgrounds:
        raise ValueError(f"unknown backgrounds {sorted(bad) or backgrounds}; expected some of {BACKGROUNDS}.")
    font = choices[int(rng.integers(len(choices)))]
    size_name = str(rng.choice(list(SIZES)))
    size = int(rng.integers(SIZES[size_name][0], SIZES[size_name][1] + 1))
    if wide_sizes:  # one of the five sizes, each as likely; drawn apart, so the draws below are unchanged
        w = np.random.default_rng([*map(int, np.atleast_1d(seed)), 11])
        name = str(w.choice(list(SIZES) + list(WIDE_SIZES)))
        if name in WIDE_SIZES:
            size_name, size = name, int(w.integers(WIDE_SIZES[name][0], WIDE_SIZES[name][1] + 1))
    H = height or int(rng.choice(HEIGHTS))
    background, variant = str(rng.choice(list(backgrounds))), int(rng.integers(2))
    sun = bool(rng.random() < 0.3)
    drawn = {}
    if variety:  # drawn from a generator of their own, so the rest of the page is drawn as without them
        v = np.random.default_rng([*map(int, np.atleast_1d(seed)), 7])
        size = round(float(v.uniform(size - 0.5, size + 0.5)) * 3) / 3  # thirds of a pixel
        drawn = {"scale": 3, "weight": int(v.integers(-1, 2)), "bleed": round(float(v.uniform(0, 0.5)), 3),
                 "bleed_px": round(float(v.uniform(0.7, 2.0)), 3)}

    coverage = render_ink(rng, H, WIDTH, font, size, drawn.get("scale", 1), drawn.get("weight", 0))
    darkness = rng.uniform(0.75, 0.95)  # clean ink is dark grey, not pure black
    clean = 1 - darkness * coverage
    fade = rng.uniform(0.45, 1.0)  # faded ink ...
    blur = rng.uniform(0.0, 1.0)  # ... and blurred
    ink = gaussian_blur(coverage, blur) * darkness * fade
    if drawn.get("bleed"):  # ink that soaked into the paper's fibres: a faint halo around every stroke
        ink = np.maximum(ink, drawn["bleed"] * darkness * fade * gaussian_blur(coverage, drawn["bleed_px"]))
    background_image, marks = paper(rng, H, WIDTH, background, variant, sun)
    noisy = background_image * (1 - ink)
    if clutter:
        factor, cluttered = clutter_marks(np.random.default_rng([*map(int, np.atleast_1d(seed)), 11]), H, WIDTH)
        noisy *= factor
        marks = np.maximum(marks, cluttered)
    noisy += rng.normal(0, rng.uniform(0.005, 0.03), noisy.shape).astype(np.float32)  # sensor noise
    to_u8 = lambda a: np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)  # noqa: E731
    meta = {"seed": int(seed) if isinstance(seed, numbers.Integral) else [int(s) for s in seed], "font": font.name,
            "font_family": font.family, "font_style": font.style,
            "size": size_name, "font_px": size, "background": background, "variant": variant, "sun_spots": sun,
            "ink_fade": round(float(fade), 3), "ink_blur": round(float(blur), 3), "height": H,
            **({"font_px": round(size, 3), "variety": drawn} if drawn else {}),
            **({"clutter": True} if clutter else {}), **({"wide_sizes": True} if wide_sizes else {})}
    near = max_filter((marks > 0.3).astype(np.float32), 5) > 0  # the marks, widened by 2 pixels
    return Page(to_u8(noisy), to_u8(clean), meta, near)


def clutter_marks(rng: np.random.Generator, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Marks that are not text, of no particular kind: up to 3 straight lines (rules, scratches, streaks:
    most near horizontal or vertical, some at any angle, of part of the page or all of it, faint or dark),
    dust specks, and up to 2 pen strokes (smooth random curves). Returns the factor the noisy page is
    multiplied by and where the marks are (0 to 1). The clean page has none of them: the model learns to
    remove what is not shaped like letters."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    factor, marks = np.ones((H, W), np.float32), np.zeros((H, W), np.float32)
    for _ in range(int(rng.integers(0, 4))):
        angle = (rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.03)) if rng.random() < 0.7 else rng.uniform(0, np.pi)
        x0, y0 = rng.uniform(0, W), rng.uniform(0, H)
        across = np.abs((xx - x0) * np.sin(angle) - (yy - y0) * np.cos(angle))  # distance from the line
        along = np.abs((xx - x0) * np.cos(angle) + (yy - y0) * np.sin(angle))
        line = np.clip(rng.uniform(0.4, 1.5) + 0.5 - across, 0, 1) * (along < rng.uniform(0.1, 0.6) * (H + W))
        factor *= 1 - rng.uniform(0.15, 0.7) * line
        marks = np.maximum(marks, line)
    dust = np.zeros((H, W), np.float32)
    n = rng.poisson(rng.uniform(0, 0.002) * H * W)
    r, c = rng.integers(0, H - 1, n), rng.integers(0, W - 1, n)
    depth = rng.uniform(0.3, 0.9, n).astype(np.float32)
    big = rng.random(n) < 0.4  # some specks are 2x2
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        keep = big if (dr or dc) else np.ones(n, bool)
        dust[r[keep] + dr, c[keep] + dc] = depth[keep]
    for _ in range(int(rng.integers(0, 3))):
        t = np.linspace(0, 1, 4000)
        x = rng.uniform(0, W) + sum(rng.normal(0, 40) * np.sin(k * np.pi * t + rng.uniform(0, 6)) for k in (1, 2, 3))
        y = rng.uniform(0, H) + sum(rng.normal(0, 25) * np.sin(k * np.pi * t + rng.uniform(0, 6)) for k in (1, 2, 3))
        inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
        stroke = np.zeros((H, W), np.float32)
        stroke[y[inside].astype(int), x[inside].astype(int)] = 1
        dust = np.maximum(dust, rng.uniform(0.4, 0.8) * gaussian_blur(max_filter(stroke, 3), 0.5) / 1.0)
    factor *= 1 - np.clip(dust, 0, 0.95)
    return factor, np.maximum(marks, (dust > 0.05).astype(np.float32))


def generate_folder(out: str | Path, n: int, seed: int = 0, *, n_test: int = 0, fonts: Sequence[str] = FONT_FAMILIES,
                    backgrounds: Sequence[str] = BACKGROUNDS, log: Callable[[str], None] = print,
                    generator: str = "main") -> Path:
    """Write a Kaggle-style folder: train/, train_cleaned/ (n pages) and test/ (n_test pages), 1.png ...

    A manifest.json records each page's font, size, background and seed. Page i uses seed (seed, i).
    ``generator="other"`` writes pages of the second generator (:mod:`.other_pages`), drawn differently on
    purpose and never used in training: the check of how a model does on damage it never saw.
    The folder is built under a temporary name beside ``out`` and renamed at the end, so a run that
    fails (a full disk, Ctrl-C) leaves no folder that looks complete and nothing to clean up.
    """
    out = Path(out)
    n, n_test, seed = as_int(n), as_int(n_test), as_int(seed)  # NumPy integers are fine
    for count, what in ((n, "training pages"), (n_test, "test pages"), (seed, "seed")):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"the {what if what == 'seed' else 'number of ' + what} must be an integer >= 0, got "
                             f"{count!r}. Fix: e.g. 144 pages, seed 0.")
    from .other_pages import make_other_page  # it draws with this module's fonts

    if generator not in ("main", "other"):
        raise ValueError(f"generator must be 'main' or 'other', got {generator!r}. Fix: --generator other.")
    if generator == "other" and (tuple(fonts) != FONT_FAMILIES or tuple(backgrounds) != BACKGROUNDS):
        raise ValueError("the other generator draws its own fonts and damage: fonts and backgrounds choose the main "
                         "generator's pages. Fix: drop them, or drop --generator other.")
    check_folder(out, "--out")  # not a file, nor a link that leads nowhere
    if out.is_symlink() and out.is_dir():
        out = Path(os.path.realpath(out))  # a link to an empty folder: build the pages where it leads
    if n + n_test == 0:
        raise ValueError("0 pages asked for. Fix: --pages 144 (and --test-pages N for a test/ folder).")
    if n + n_test > MAX_PAGES:
        raise ValueError(f"{n + n_test:,} pages asked for; at most {MAX_PAGES:,} (about {MAX_PAGES // 4000} GB of "
                         "PNG files). Fix: --pages 144.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty folder; nothing in it is overwritten. Fix: "
                         "generate into a new folder.")
    make_folder(out.parent)
    _remove_stale_partials(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial", dir=out.parent))
    try:
        manifest = {}
        for i in range(1, n + n_test + 1):
            page = (make_page([seed, i], fonts=fonts, backgrounds=backgrounds) if generator == "main" else
                    make_other_page([seed, i]))
            split = "train" if i <= n else "test"
            write_png(tmp / split / f"{i}.png", page.noisy)
            if split == "train":
                write_png(tmp / "train_cleaned" / f"{i}.png", page.clean)
            manifest[f"{split}/{i}.png"] = page.meta
            if i % 20 == 0:
                log(f"{i}/{n + n_test} pages")
        with atomic_write(tmp / "manifest.json", "w") as f:
            json.dump({"generator": "scratchdae.documents" + (".other_pages" if generator == "other" else ""),
                       "seed": seed, "pages": manifest}, f, indent=1)
        os.chmod(tmp, 0o777 & ~current_umask())  # a folder as mkdir would make it, not mkdtemp's 0700
        os.replace(tmp, out)  # an empty folder of that name is replaced; a full one was refused above
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and err.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise ValueError(f"{out} was filled by another command while these pages were drawn (it is no longer an "
                             "empty folder); nothing of this run was kept, and nothing there was replaced. Fix: "
                             "generate into a new folder.") from None
        if isinstance(err, OSError) and err.errno is not None:  # said of --out, not of the hidden folder
            cause = os.strerror(err.errno) + (": past the size limit on files" if err.errno == errno.EFBIG else "")
            raise OSError(err.errno, f"--out {out}: could not write the pages ({cause}); nothing was kept. "
                                     f"Fix: {FIXES.get(err.errno, 'choose another --out')}.") from None
        raise
    return out


FIXES = {errno.EFBIG: "raise the limit (ulimit -f unlimited), or choose an --out on another file system",
         errno.ENOSPC: "free some space, or choose another --out", errno.EDQUOT: "free some space, or choose another "
         "--out", errno.EACCES: "choose another --out, or make its folder writable"}  # errno -> what to do


def _remove_stale_partials(out):
    """Remove the half-built folders of generate runs into ``out`` that were killed (their process is gone)."""
    for partial in out.parent.glob(f".{out.name}.*.partial"):
        pid = partial.name[len(out.name) + 2:].split(".")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)

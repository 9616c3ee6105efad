r"""A second page generator, drawn differently on purpose: a check that a model generalises.

The main generator (:mod:`scratchdae.documents.generate`) is what the
document models train on, and its choices (paragraphs of words, four damage
families, ink drawn at the page's resolution) were tuned with them. A model
can learn such choices instead of learning to clean pages. This generator
shares none of them, and is never used in training:

* **layout**: forms and letters, not paragraphs: a heading in capitals, a
  date, numbered items with amounts, a signature line, in one or two columns;
* **text**: drawn at three times the page's resolution and shrunk (other
  anti-aliasing), the whole page turned by up to 1.5 degrees (a skewed scan);
* **damage**, one to three of: the text of the back of the sheet showing
  through, mirrored and blurred; pen and pencil scribbles; an aged page
  (yellowed edges and brown foxing spots); a photocopier's streaks and
  uneven toner; a strip of clear tape with dark edges;
* **paper**: a sheet of its own grey (recycled paper, a dark scan);
* **noise**: specks of dust and toner, and sensor noise.

The clean twin is the same printed text on white, like the main generator's,
and ``marks`` holds the scribbles, streaks and tape edges, the marks that are
not text.
"""
import numbers

import numpy as np

from .filters import gaussian_blur, max_filter
from .generate import HEIGHTS, WIDTH, Page, available_fonts

DAMAGES = ("bleed-through", "scribbles", "aged", "photocopy", "tape")
WORDS = ("invoice", "order", "customer", "account", "shipping", "total", "amount", "due", "payment", "received",
         "item", "quantity", "price", "tax", "balance", "reference", "dear", "sir", "madam", "regards", "sincerely",
         "enclosed", "please", "find", "attached", "statement", "period", "ending", "number", "date", "signature")
HEADINGS = ("INVOICE", "STATEMENT OF ACCOUNT", "PURCHASE ORDER", "MEMORANDUM", "RECEIPT", "DELIVERY NOTE")


def _lines_of_text(rng):
    """The text of a form or a letter: a heading, a date, numbered items with amounts, a closing."""
    lines = [str(rng.choice(HEADINGS)), f"Date: {rng.integers(1, 13):02d}/{rng.integers(1, 29):02d}/"
                                        f"{rng.integers(1950, 2000)}", ""]
    for i in range(int(rng.integers(4, 12))):
        words = " ".join(str(w) for w in rng.choice(WORDS, int(rng.integers(2, 6))))
        lines.append(f"{i + 1}. {words.capitalize()} ....... ${rng.integers(1, 9999)}.{rng.integers(0, 100):02d}")
    lines += ["", str(rng.choice(["Yours sincerely,", "Regards,", "Received by:", "Authorised signature:"])),
              "_" * int(rng.integers(12, 25))]
    return lines


def _draw_text(rng, height, width):
    """Glyph coverage in [0, 1] (H, W): drawn at three times the resolution and shrunk, in one or two columns."""
    from PIL import Image, ImageDraw, ImageFont

    scale = 3
    fonts = available_fonts()
    font = fonts[int(rng.integers(len(fonts)))]
    size = int(rng.integers(12, 26))
    pil_font = ImageFont.truetype(font.path, size * scale)
    img = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(img)
    columns = 2 if rng.random() < 0.4 else 1
    col_w = (width - 40) // columns
    line_h = int(size * rng.uniform(1.3, 1.8))
    for c in range(columns):
        x, y = 20 + c * col_w, int(rng.integers(10, 30))
        for text in _lines_of_text(rng):
            if y + line_h > height - 8:
                break
            while text and draw.textlength(text, font=pil_font) > (col_w - 10) * scale:
                text = text[:-1]  # a line too long for its column is cut, as a form's field is
            draw.text((x * scale, y * scale), text, fill=255, font=pil_font)
            y += line_h
    angle = rng.uniform(-1.5, 1.5)  # a skewed scan
    img = img.rotate(angle, resample=Image.BILINEAR).resize((width, height), Image.BOX)
    return np.asarray(img, dtype=np.float32) / 255, font, size, columns, angle


def _bleed_through(rng, H, W, marks):
    back, *_ = _draw_text(rng, H, W)
    return 1 - rng.uniform(0.1, 0.25) * gaussian_blur(back[:, ::-1].copy(), rng.uniform(0.8, 1.8))


def _scribbles(rng, H, W, marks):
    from PIL import Image, ImageDraw

    img = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 5))):
        pts = np.cumsum(rng.normal(0, 25, (int(rng.integers(4, 12)), 2)), axis=0) + rng.uniform([0, 0], [W, H])
        draw.line([tuple(p) for p in pts], fill=255, width=int(rng.integers(1, 3)), joint="curve")
    mark = np.asarray(img, dtype=np.float32) / 255
    marks |= mark > 0.3
    return 1 - rng.uniform(0.3, 0.7) * mark


def _aged(rng, H, W, marks):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    edge = np.minimum(np.minimum(yy, H - 1 - yy), np.minimum(xx, W - 1 - xx))  # distance to the nearest edge
    paper = 1 - rng.uniform(0.1, 0.3) * np.exp(-edge / rng.uniform(20, 80))
    for _ in range(int(rng.integers(5, 30))):  # foxing: small brown spots
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(1, 5)
        paper -= rng.uniform(0.1, 0.35) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return paper


def _photocopy(rng, H, W, marks):
    paper = np.ones((H, W), np.float32)
    for _ in range(int(rng.integers(1, 6))):  # streaks along the paper's path
        x, w = int(rng.integers(0, W)), int(rng.integers(1, 4))
        paper[:, x:x + w] -= rng.uniform(0.1, 0.4)
        marks[:, x:x + w] = True
    toner = np.linspace(rng.uniform(-0.1, 0.05), rng.uniform(-0.1, 0.05), W, dtype=np.float32)  # uneven toner
    return paper + toner[None, :]


def _tape(rng, H, W, marks):
    paper = np.ones((H, W), np.float32)
    top, h = int(rng.integers(0, H - 40)), int(rng.integers(25, 60))
    paper[top:top + h] -= rng.uniform(0.05, 0.15)  # the tape's tint
    for edge in (top, top + h - 1):  # its edges catch dirt
        paper[edge:edge + 2] -= rng.uniform(0.2, 0.4)
        marks[edge:edge + 2] = True
    return paper


DAMAGE_MAKERS = {"bleed-through": _bleed_through, "scribbles": _scribbles, "aged": _aged, "photocopy": _photocopy,
                 "tape": _tape}


def make_other_page(seed: int | list[int]) -> Page:
    """One (noisy, clean) pair from the second generator, from a seed (an integer >= 0 or a list of them)."""
    parts = [seed] if isinstance(seed, numbers.Integral) else list(seed) if isinstance(seed, (list, tuple)) else None
    if parts is None or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in parts):
        raise ValueError(f"a page's seed must be an integer >= 0 or a list of them, got {seed!r}. "
                         "Fix: make_other_page(0).")
    rng = np.random.default_rng([7919, *parts])  # its own streams: never the main generator's pages
    H = int(rng.choice(HEIGHTS))
    coverage, font, size, columns, angle = _draw_text(rng, H, WIDTH)
    darkness = rng.uniform(0.7, 0.95)
    clean = 1 - darkness * coverage
    damages = [str(d) for d in rng.choice(DAMAGES, int(rng.integers(1, 4)), replace=False)]
    marks = np.zeros((H, WIDTH), bool)
    paper = np.full((H, WIDTH), rng.uniform(0.72, 0.95), np.float32)  # the sheet's own grey: recycled, scanned dark
    for d in damages:
        paper *= DAMAGE_MAKERS[d](rng, H, WIDTH, marks)
    ink = coverage * darkness * rng.uniform(0.6, 1.0)
    noisy = np.clip(paper, 0.2, 1) * (1 - ink)
    specks = rng.random((H, WIDTH)) < rng.uniform(0, 0.002)  # dust and toner
    noisy[specks] *= rng.uniform(0.2, 0.6)
    noisy += rng.normal(0, rng.uniform(0.005, 0.02), noisy.shape).astype(np.float32)
    to_u8 = lambda a: np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)  # noqa: E731
    meta = {"generator": "other", "seed": parts if len(parts) > 1 else parts[0], "font": font.name,
            "font_family": font.family, "font_px": size, "columns": columns, "skew_degrees": round(float(angle), 2),
            "damages": damages, "height": H}
    return Page(to_u8(noisy), to_u8(clean), meta, max_filter(marks.astype(np.float32), 5) > 0)  # widened by 2


def other_pages(n: int, seed: int = 0) -> list[Page]:
    """n pages of the second generator: page i from the seed (seed, i)."""
    return [make_other_page([seed, i]) for i in range(n)]

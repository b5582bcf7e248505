"""Digits drawn as a person draws them with a mouse: polylines in a unit box (x right, y down),
shared by the browser test (real mouse strokes) and the drawing tests (the same strokes in PIL)."""
import math

from PIL import Image, ImageDraw

STROKES = {
    "0": [[(0.5 + 0.17 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.3 * math.cos(t / 24 * 2 * math.pi))
           for t in range(25)]],
    "1": [[(0.5, 0.2), (0.5, 0.8)]],
    "2": [[(0.3, 0.3), (0.5, 0.2), (0.68, 0.32), (0.6, 0.5), (0.3, 0.8), (0.72, 0.8)]],
    "3": [[(0.3, 0.25), (0.5, 0.2), (0.68, 0.3), (0.55, 0.48), (0.42, 0.5), (0.55, 0.52), (0.7, 0.65),
           (0.55, 0.8), (0.3, 0.75)]],
    "4": [[(0.58, 0.8), (0.58, 0.2), (0.28, 0.6), (0.72, 0.6)]],
    "5": [[(0.7, 0.2), (0.35, 0.2), (0.33, 0.48), (0.55, 0.45), (0.7, 0.6), (0.6, 0.78), (0.3, 0.78)]],
    "6": [[(0.65, 0.2), (0.4, 0.45), (0.33, 0.65), (0.45, 0.8), (0.62, 0.75), (0.65, 0.6), (0.5, 0.5),
           (0.35, 0.6)]],
    "7": [[(0.3, 0.22), (0.7, 0.22), (0.45, 0.8)]],
    "8": [[(0.5, 0.5), (0.35, 0.35), (0.5, 0.2), (0.65, 0.35), (0.5, 0.5), (0.33, 0.65), (0.5, 0.8),
           (0.67, 0.65), (0.5, 0.5)]],
    "9": [[(0.65, 0.35), (0.5, 0.22), (0.35, 0.35), (0.5, 0.48), (0.65, 0.35), (0.62, 0.8)]],
}


def draw_polylines(text: str, width: int, size=(672, 160), scale: float = 1.0) -> Image.Image:
    """Black strokes of `width` px on white, one digit per quarter of the canvas (the app's boxes),
    `scale` times the box height, centred in its box."""
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    box_w, box_h = size[0] / len(text), size[1]
    for k, digit in enumerate(text):
        for stroke in STROKES[digit]:
            points = [((k + 0.5 + (x - 0.5) * scale) * box_w, (0.5 + (y - 0.5) * scale) * box_h)
                      for x, y in stroke]
            pen.line(points, fill="black", width=width, joint="curve")
    return image

"""Any image -> the model's canvas: (H, W) float32 in [0, 1], white ink on black, digits at the
native MNIST size (~20 px tall), left-aligned as in the course layout.

Accepts PIL images or arrays: L, RGB, RGBA (composited over white), 8 or 16 bit, bool or float,
black-on-white or white-on-black (detected from the border). A course image already at the canvas
size passes through untouched, so evaluation on course files sees exactly what training saw.

By concern: image_files (decoding a file within the pixel budget), gray (any image to gray levels),
ink (paper, light and ink), page_edges (a photographed page's edges, the table and straight lines), canvas
(cropping and scaling onto the canvas). The names below are the package's interface.
"""
from digitsum.reading.preprocess.canvas import DIGIT_HEIGHT, LEFT_MARGIN, MAX_GAP, fit_batch, fit_to_canvas
from digitsum.reading.preprocess.gray import to_gray, to_white_on_black
from digitsum.reading.preprocess.image_files import (MAX_ASPECT, MAX_PIXELS, WORK_PIXELS, check_size,
                                                     load_image_file, open_within_budget, reduce_to_work_size)
from digitsum.reading.preprocess.ink import flatten_background, ink_is_dark
from digitsum.reading.preprocess.page_edges import clean_page, drop_page_edges, drop_straight_lines

__all__ = ["DIGIT_HEIGHT", "LEFT_MARGIN", "MAX_GAP", "fit_batch", "fit_to_canvas", "to_gray", "to_white_on_black",
           "MAX_ASPECT", "MAX_PIXELS", "WORK_PIXELS", "check_size", "load_image_file", "open_within_budget",
           "reduce_to_work_size", "flatten_background", "ink_is_dark", "drop_page_edges",
           "drop_straight_lines", "clean_page"]

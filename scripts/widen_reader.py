"""A reader checkpoint widened with row features (model `reader_rows`): the same weights, and the
column head's inputs for each feature row at zero, so the new checkpoint reads exactly as the old
one does until training (`python -m train --model reader_rows --init OUT`) teaches it to use them.

    .venv/bin/python scripts/widen_reader.py --checkpoint checkpoints/digitsum-reader --out runs/reader-rows-init
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitsum.errors import DigitsumError  # noqa: E402
from digitsum.models.net import DigitSumNet  # noqa: E402
from digitsum.models.reader import widen_with_rows  # noqa: E402
from digitsum.storage.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="a reader checkpoint without row features")
    p.add_argument("--out", type=Path, required=True, help="the widened checkpoint's folder")
    a = p.parse_args()
    try:
        model = load_checkpoint(a.checkpoint)
        if model.trunk_name != "reader" or model.row_features:
            raise DigitsumError(f"{a.checkpoint}: not a reader without row features; nothing to widen")
        wide = widen_with_rows(model, DigitSumNet(**{**model._hub_mixin_config, "row_features": True}).eval())
        command = f"python scripts/widen_reader.py --checkpoint {a.checkpoint} --out {a.out}"
        save_checkpoint(wide, a.out, {"command": command, "widened_from": str(a.checkpoint)}, {})
    except DigitsumError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}: {a.checkpoint} with row features (reads as it does until trained)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

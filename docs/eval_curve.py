"""Draw success rate against training frames from an eval run's rows, read back from the offline run as W&B syncs it.

    python docs/eval_curve.py output/<experiment> --out docs/eval_curve.png

``PATH`` is an experiment folder (its newest eval run is drawn, every segment of it) or an ``offline-run-*`` folder.
The rows are read with hsi_wandb's run reader (W&B's own: ``wandb leet inspect --json``, or on W&B's releases for
Python 3.8, which have no ``leet``, their Python reader; ``--wandb`` names a ``wandb`` command with ``leet`` to use
instead); the picture is drawn with Pillow (installed with imageio, the video extra).
"""
import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from hsi_wandb.run_reader import read_records  # noqa: E402

METRIC = "success_rate"
SIZE = (720, 420)
MARGIN = (70, 60, 30, 60)
"""Left, top, right, bottom, in pixels."""
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
Points = Dict[str, List[Tuple[float, float]]]


def eval_segments(path: str, cli: Optional[str] = None) -> List[List[dict]]:
    """The records of every segment of the eval run ``path`` names, oldest first (a run continued after an
    interruption has several); an experiment folder names its newest eval run."""
    path = os.path.abspath(path)
    base = os.path.basename(path)
    wandb_dir = os.path.dirname(path) if base.startswith("offline-run-") else os.path.join(path, "wandb")
    folders = [os.path.join(wandb_dir, d) for d in os.listdir(wandb_dir) if d.startswith("offline-run-")]
    runs = [(folder, read_records(folder, cli)) for folder in folders]
    runs = sorted(((folder, found) for folder, found in runs if _run_record(found).get("job_type") == "eval"),
                  key=lambda run: (_started(run[1]), run[0]))
    if base.startswith("offline-run-"):
        run_id = _run_record(dict(runs)[path])["run_id"]
    elif runs:
        run_id = _run_record(runs[-1][1])["run_id"]
    else:
        raise SystemExit("eval_curve.py: error: no eval run (job type eval) under {}".format(wandb_dir))
    return [found for _, found in runs if _run_record(found)["run_id"] == run_id]


def _run_record(found: List[dict]) -> dict:
    return next((r["run"] for r in found if r.get("type") == "run"), {})


def _started(found: List[dict]) -> Tuple[str, float]:
    """When the segment started, from its run record (``2026-01-02T03:04:05.678Z``; folder names only resolve
    seconds, and runs started in one second sort by their random ids)."""
    whole, _, fraction = _run_record(found).get("start_time", "").rstrip("Z").partition(".")
    return whole, float("0." + (fraction or "0"))


def read_points(segments: Sequence[List[dict]], metric: str = METRIC) -> Points:
    """``{key: [(frame, value), ...]}`` for every ``eval/<experiment>/<metric>`` key of the rows."""
    points: Points = {}
    for found in segments:
        for record in found:
            row = record.get("history", {}).get("item", {}) if record.get("type") == "history" else {}
            for key, value in row.items():
                if key.startswith("eval/") and key.endswith("/" + metric) and isinstance(value, (int, float)):
                    points.setdefault(key, []).append((float(row["frame"]), float(value)))
    return points


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: one bitmap size
        return ImageFont.load_default()


def render(points: Points, title: str, out: str) -> None:
    """A line per experiment, success rate (0 to 1) against frames, written as a PNG to ``out``."""
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(15), _font(12)
    left, top, right, bottom = MARGIN[0], MARGIN[1], SIZE[0] - MARGIN[2], SIZE[1] - MARGIN[3]
    frames = [frame for line in points.values() for frame, _ in line] or [0.0, 1.0]
    low, high = min(0.0, min(frames)), max(frames)
    span = (high - low) or 1.0

    def at(frame: float, value: float) -> Tuple[float, float]:
        return left + (frame - low) / span * (right - left), bottom - value * (bottom - top)

    for tick in range(6):
        value = tick / 5
        y = at(low, value)[1]
        draw.line([(left, y), (right, y)], fill=(230, 230, 230))
        draw.text((left - 8, y), "{:.1f}".format(value), fill="black", font=small, anchor="rm")
        frame = low + span * tick / 5
        x = at(frame, 0)[0]
        draw.line([(x, bottom), (x, bottom + 4)], fill="black")
        label = "{:.2f}M".format(frame / 1e6) if high >= 1e6 else "{:.0f}k".format(frame / 1e3)
        draw.text((x, bottom + 8), label, fill="black", font=small, anchor="mt")
    draw.rectangle([left, top, right, bottom], outline="black")
    draw.text(((left + right) / 2, SIZE[1] - 8), "frame (environment steps)", fill="black", font=font, anchor="md")
    draw.text((left, top - 8), METRIC, fill="black", font=font, anchor="ls")
    draw.text(((left + right) / 2, 8), title, fill="black", font=font, anchor="mt")
    for i, (key, line) in enumerate(sorted(points.items())):
        colour = COLOURS[i % len(COLOURS)]
        xy = [at(frame, value) for frame, value in sorted(line)]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((left + 10, top + 8 + 16 * i), key, fill=colour, font=small, anchor="lt")
    image.save(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """PATH, --out and --wandb."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", metavar="PATH", help="an experiment folder or an offline-run-* folder of an eval run")
    parser.add_argument("--out", default="eval_curve.png", help="the PNG to write (default: %(default)s)")
    parser.add_argument("--wandb", metavar="COMMAND", help="the wandb command that reads the run, one with `wandb "
                        "leet` (default: the installed wandb's own reader)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Read the eval run under PATH and write its success-rate curve to --out."""
    args = parse_args(argv)
    segments = eval_segments(args.path, args.wandb)
    points = read_points(segments)
    if not points:
        raise SystemExit("eval_curve.py: error: the eval run has no eval/*/{} rows".format(METRIC))
    record = _run_record(segments[0])
    render(points, "{} ({} checkpoints)".format(record.get("display_name") or record.get("run_id"),
                                               max(len(line) for line in points.values())), args.out)
    print("eval_curve.py: {} written".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

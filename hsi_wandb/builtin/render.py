"""Top-down pictures of the built-in tasks without a display: a numpy raster per env, the camera on its mass.

A grid of 1 m lines moves under the mass as it travels; each objective draws its own goal (:meth:`draw` of an
objective) in the same metres.
"""
from typing import Any, Sequence, Tuple

import numpy as np

TILE = 96
"""Pixels on a side of one env's picture."""
METRES = 6.0
"""Metres on a side of one env's picture."""
BACKGROUND = (245, 245, 240)
GRID = (215, 215, 210)
BODY = (40, 90, 200)
GOAL = (220, 60, 40)
PATH = (240, 160, 60)
TASK_BORDERS = ((120, 120, 120), (60, 160, 90), (150, 80, 190), (200, 160, 40))
Colour = Tuple[int, int, int]


class View:
    """One env's picture: world metres around ``centre`` mapped to the pixels of ``image`` (y up)."""

    def __init__(self, centre: np.ndarray) -> None:
        self.image = np.empty((TILE, TILE, 3), dtype=np.uint8)
        self.image[:] = BACKGROUND
        self.centre = np.asarray(centre, dtype=np.float64)
        self.scale = TILE / METRES

    def pixels(self, points: Any) -> np.ndarray:
        """(col, row) pixel coordinates of world points (..., 2)."""
        offset = (np.asarray(points, dtype=np.float64) - self.centre) * self.scale
        return np.stack([TILE / 2 + offset[..., 0], TILE / 2 - offset[..., 1]], axis=-1)

    def disc(self, point: Any, radius: float, colour: Colour, ring: bool = False) -> None:
        """A filled disc (or with ``ring``, a circle line) of ``radius`` metres, at least one pixel wide."""
        col, row = self.pixels(point)
        radius_px = max(radius * self.scale, 1.0)
        top, bottom = max(int(row - radius_px - 1), 0), min(int(row + radius_px + 2), TILE)
        left, right = max(int(col - radius_px - 1), 0), min(int(col + radius_px + 2), TILE)
        if top >= bottom or left >= right:
            return
        rows, cols = np.ogrid[top:bottom, left:right]
        distance = np.hypot(cols - col, rows - row)
        window = self.image[top:bottom, left:right]
        window[np.abs(distance - radius_px) < 0.8 if ring else distance <= radius_px] = colour

    def polyline(self, points: Any, colour: Colour) -> None:
        """Straight segments through world points (k, 2), one pixel wide (sampled every half pixel along them)."""
        pixels = self.pixels(points)
        along = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(pixels, axis=0)).max(axis=1))])
        samples = np.linspace(0.0, along[-1], int(np.ceil(2 * along[-1])) + 1)
        line = np.rint(np.stack([np.interp(samples, along, pixels[:, 0]),
                                 np.interp(samples, along, pixels[:, 1])], axis=1)).astype(int)
        inside = ((line >= 0) & (line < TILE)).all(axis=1)
        self.image[line[inside, 1], line[inside, 0]] = colour

    def grid(self, spacing: float = 1.0) -> None:
        """Lines every ``spacing`` metres, fixed to the world, so the picture shows the mass moving."""
        half = METRES / 2
        for axis in (0, 1):
            lines = np.arange(np.ceil((self.centre[axis] - half) / spacing),
                              np.floor((self.centre[axis] + half) / spacing) + 1) * spacing
            at = np.rint((lines - self.centre[axis]) * self.scale + TILE / 2).astype(int)
            at = at[(at >= 0) & (at < TILE)]
            if axis == 0:
                self.image[:, at] = GRID
            else:
                self.image[TILE - 1 - at] = GRID

    def border(self, colour: Colour) -> None:
        """A two-pixel frame around the picture (in a multi-task env, the colour of the env's task)."""
        self.image[:2], self.image[-2:], self.image[:, :2], self.image[:, -2:] = colour, colour, colour, colour


def render_envs(task: Any, env_ids: Sequence[int]) -> np.ndarray:
    """Pictures of ``env_ids`` of a built-in task side by side, two per row: (rows * TILE, cols * TILE, 3) uint8."""
    positions = task.body.pos.detach().cpu().numpy()
    velocities = task.body.vel.detach().cpu().numpy()
    task_ids = task.task_ids.cpu().numpy()
    tiles = []
    for i in env_ids:
        view = View(positions[i])
        view.grid()
        task.objectives[task_ids[i]].draw(view, i, int(task.progress_buf[i]))
        view.polyline([positions[i], positions[i] + 0.5 * velocities[i]], BODY)
        view.disc(positions[i], 0.15, BODY)
        view.border(TASK_BORDERS[task_ids[i] % len(TASK_BORDERS)] if len(task.objectives) > 1 else GRID)
        tiles.append(view.image)
    columns = min(2, len(tiles))
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], BACKGROUND))
    rows = [np.concatenate(tiles[r:r + columns], axis=1) for r in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)

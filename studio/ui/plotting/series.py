"""What the Monitor plots, as data: growing series buffers, EMA smoothing, min/max envelopes.

No Qt here: the plot panels (studio.ui.plotting.plots) draw what these arrays hold.
"""

from __future__ import annotations

import math

import numpy as np

STEP, MINUTES, VALUE, SMOOTH = range(4)  # the rows of a Series
DETAIL_MAX = 20_000  # a series up to this long is drawn point by point
ENVELOPE_BLOCKS = 4096  # beyond it, as min/max of at most this many blocks
# The scan below works in blocks whose weights span at most e^_EMA_SPAN, so neither the growing
# weights nor the shrinking ones leave float64's comfortable range.
_EMA_SPAN = 200.0


def ema(values: np.ndarray, alpha: float, last: float = math.nan) -> np.ndarray:
    """Exponential moving average y_k = alpha*y_(k-1) + (1-alpha)*x_k, continuing from `last`.

    With `last` NaN the average starts at the first value. Non-finite values stay NaN and are
    skipped, so one NaN loss does not blank the rest of the curve. Vectorised (no Python loop
    per point): a blocked scan, exact to float precision, so a million points take milliseconds.
    """
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    x = values[finite]
    n = x.size
    if n == 0:
        return out
    start = float(x[0]) if not math.isfinite(last) else last
    if alpha <= 0.0:
        out[finite] = x
        return out
    decay = -math.log(alpha)
    block = max(1, min(n, int(_EMA_SPAN / decay)))
    count = -(-n // block)
    padded = np.zeros(count * block)
    padded[:n] = x
    j = np.arange(block)
    down = np.exp(-decay * j)  # alpha^j
    with np.errstate(over="ignore", invalid="ignore"):
        # Within a block: (1-a) * sum_{i<=k} a^(k-i) x_i = (1-a) * a^k * cumsum(a^-i x_i).
        local = np.cumsum(padded.reshape(count, block) * np.exp(decay * j), axis=1)
        local *= down * (1.0 - alpha)
    # Each block continues from the previous block's end. Carrying that end through a whole
    # block multiplies it by alpha^block <= e^-_EMA_SPAN, so one level of carry is exact.
    carry = np.empty(count)
    carry[0] = start
    carry[1:] = local[:-1, -1]
    local += carry[:, None] * (down * alpha)
    out[finite] = local.ravel()[:n]
    return out


class Series:
    """One metric of one run: step, minutes and value arrays that grow by doubling.

    Appends are amortised O(1) per row; the EMA and the min/max envelope that curves draw are
    extended incrementally, so a live poll never reprocesses the whole history.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._data = np.empty((4, capacity))  # rows: STEP, MINUTES, VALUE, SMOOTH
        self.n = 0
        self.alpha = 0.0
        self._last = math.nan  # the last finite smoothed value: where the EMA continues from
        # Envelope per y row: (block size, smoothing generation, block minima, block maxima).
        self._envelopes: dict[int, tuple[int, int, np.ndarray, np.ndarray]] = {}
        self._generation = 0  # bumped when the smoothed row is recomputed from scratch

    def extend(self, steps: np.ndarray, minutes: np.ndarray, values: np.ndarray) -> None:
        """Append rows (equal-length arrays)."""
        old, new = self.n, self.n + len(values)
        if new > self._data.shape[1]:
            grown = np.empty((4, max(new, 2 * self._data.shape[1])))
            grown[:, :old] = self._data[:, :old]
            self._data = grown
        self._data[STEP, old:new] = steps
        self._data[MINUTES, old:new] = minutes
        self._data[VALUE, old:new] = values
        self.n = new
        if self.alpha > 0:
            self._smooth_from(old)

    @property
    def last_step(self) -> float:
        """The step of the newest row (-inf when empty)."""
        return float(self._data[STEP, self.n - 1]) if self.n else -math.inf

    def set_alpha(self, alpha: float) -> bool:
        """Smooth with `alpha` from now on; returns whether that changed anything."""
        if alpha == self.alpha:
            return False
        self.alpha = alpha
        self._last = math.nan
        self._generation += 1
        if alpha > 0:
            self._smooth_from(0)
        return True

    def _smooth_from(self, start: int) -> None:
        part = ema(self._data[VALUE, start : self.n], self.alpha, self._last)
        self._data[SMOOTH, start : self.n] = part
        finite = part[np.isfinite(part)]
        if finite.size:
            self._last = float(finite[-1])

    def row(self, index: int) -> np.ndarray:
        """STEP, MINUTES, VALUE or SMOOTH (the raw values when not smoothing), as a view."""
        if index == SMOOTH and self.alpha <= 0:
            index = VALUE
        return self._data[index, : self.n]

    @property
    def step(self) -> np.ndarray:
        return self.row(STEP)

    @property
    def minutes(self) -> np.ndarray:
        return self.row(MINUTES)

    @property
    def value(self) -> np.ndarray:
        return self.row(VALUE)

    @property
    def smooth(self) -> np.ndarray:
        return self.row(SMOOTH)

    def drawable(self, x_row: int, y_row: int, full: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to hand a curve: every point, or for a long series a min/max envelope.

        The envelope keeps each block's extremes (what peak downsampling would draw on a
        full-width plot) in at most 2 * ENVELOPE_BLOCKS points, plus the unfinished last block
        point by point. Only new blocks are reduced on each call, so following a live run stays
        cheap however long it gets; `full` (a zoomed view) gets every point instead.
        """
        x, y = self.row(x_row), self.row(y_row)
        if full or self.n <= DETAIL_MAX:
            return x, y
        y_row = SMOOTH if y_row == SMOOTH and self.alpha > 0 else VALUE
        block = 1 << math.ceil(math.log2(self.n / ENVELOPE_BLOCKS))
        size, generation, lo, hi = self._envelopes.get(y_row, (0, -1, np.empty(0), np.empty(0)))
        if size != block or (y_row == SMOOTH and generation != self._generation):
            lo, hi = np.empty(0), np.empty(0)
        done = self.n // block
        if lo.size < done:
            fresh = y[lo.size * block : done * block].reshape(-1, block)
            # fmin/fmax skip NaN (a NaN loss) without the warnings nanmin would raise.
            lo = np.concatenate([lo, np.fmin.reduce(fresh, axis=1)])
            hi = np.concatenate([hi, np.fmax.reduce(fresh, axis=1)])
        self._envelopes[y_row] = (block, self._generation, lo, hi)
        tail = done * block
        ex, ey = np.empty(2 * done + self.n - tail), np.empty(2 * done + self.n - tail)
        ex[0 : 2 * done : 2] = ex[1 : 2 * done : 2] = x[0:tail:block]
        ey[0 : 2 * done : 2], ey[1 : 2 * done : 2] = lo, hi
        ex[2 * done :], ey[2 * done :] = x[tail:], y[tail:]
        return ex, ey

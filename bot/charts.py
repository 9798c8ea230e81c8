"""PNG charts for the health digest: a 7×24 peak-hours heatmap and a daily chart of active members, joins
and leaves. matplotlib's Agg backend (no screen), its object API (no pyplot state shared between
threads), and Noto Sans CJK SC from the mplfonts package, so Chinese labels render on a fresh machine.

Rendering takes tens of milliseconds of CPU: callers run it in a worker thread (`render_*` are plain
functions); one lock keeps matplotlib's font cache and text layout single-threaded.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
FALLBACK_FAMILY = "DejaVu Sans"
_LOCK = threading.Lock()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@cache
def cjk_family() -> str:
    """Register the CJK font shipped by mplfonts and return its family name ("Noto Sans CJK SC"); without
    it, matplotlib's own DejaVu Sans (Chinese would show as boxes: the digest text still carries it)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        return FALLBACK_FAMILY
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / CJK_FONT_FILE
    if not path.is_file():
        return FALLBACK_FAMILY
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


@dataclass(frozen=True, slots=True)
class HeatmapLabels:
    title: str
    weekdays: tuple[str, ...]  # Monday first
    hour: str  # the x axis ("hour" / "时")
    messages: str  # the colour bar


@dataclass(frozen=True, slots=True)
class DailyLabels:
    title: str
    active: str
    joins: str
    leaves: str


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", facecolor="white")
    return out.getvalue()


def render_heatmap(heat: list[list[int]], labels: HeatmapLabels) -> bytes:
    """Messages by weekday (rows, Monday on top) and hour of the group's day (columns)."""
    family = cjk_family()
    with _LOCK, matplotlib.rc_context({"font.family": [family, FALLBACK_FAMILY], "font.size": 11}):
        fig = _figure(8.0, 4.2)
        ax = fig.add_subplot()
        image = ax.imshow(heat, aspect="auto", cmap="YlOrRd", interpolation="nearest", vmin=0)
        ax.set_yticks(range(7), labels.weekdays)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
        ax.set_xlabel(labels.hour)
        ax.set_title(labels.title, fontsize=13)
        peak = max((max(row) for row in heat), default=0)
        for d, row in enumerate(heat):  # the figures themselves on the busiest cells, readable on a phone
            for h, n in enumerate(row):
                if peak and n >= peak * 0.6:
                    ax.text(h, d, _short(n), ha="center", va="center", fontsize=7, color="white")
        bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.locator = MaxNLocator(integer=True)  # counts: no 0.5 of a message
        bar.update_ticks()
        bar.set_label(labels.messages)
        return _png(fig)


def render_daily(
    days: list[str], active: list[int], joins: list[int], leaves: list[int], labels: DailyLabels
) -> bytes:
    """Active members per day (line) over joins (bars up) and leaves (bars down)."""
    family = cjk_family()
    with _LOCK, matplotlib.rc_context({"font.family": [family, FALLBACK_FAMILY], "font.size": 11}):
        fig = _figure(8.0, 4.2)
        ax = fig.add_subplot()
        xs = list(range(len(days)))
        ax.bar(xs, joins, color="#4CAF50", label=labels.joins, width=0.7)
        ax.bar(xs, [-n for n in leaves], color="#E57373", label=labels.leaves, width=0.7)
        ax.axhline(0, color="#888888", linewidth=0.8)
        ax.set_ylabel(f"{labels.joins} / {labels.leaves}")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{abs(v):g}"))  # leaves drawn down
        ax2 = ax.twinx()
        ax2.plot(xs, active, color="#1E88E5", marker="o", markersize=3, linewidth=2, label=labels.active)
        ax2.set_ylim(bottom=0, top=max([*active, 1]) * 1.15)
        ax2.set_ylabel(labels.active)
        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        step = max(1, len(days) // 7)
        ticks = xs[::step]
        ax.set_xticks(ticks, [_md(days[i]) for i in ticks])
        ax.set_title(labels.title, fontsize=13)
        handles = [*ax.get_legend_handles_labels()[0], *ax2.get_legend_handles_labels()[0]]
        names = [*ax.get_legend_handles_labels()[1], *ax2.get_legend_handles_labels()[1]]
        ax.legend(handles, names, loc="upper left", fontsize=9, frameon=False, ncols=3)
        high = max([*joins, 1])
        low = max([*leaves, 1])
        ax.set_ylim(-low * 1.3, high * 1.6)
        return _png(fig)


def _md(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.month}/{d.day}"


def _short(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)

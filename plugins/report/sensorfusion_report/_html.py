"""The report as one self-contained HTML page: inline CSS, figures as ``data:`` URIs, no script,
and a Content-Security-Policy that forbids every fetch (so the page cannot reach a network)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import Any

from ._analysis import ReportData, Skipped

__all__ = ["SECTIONS", "render_html"]

#: (section id, heading) in page order; every heading is always on the page (a section that does
#: not apply keeps its heading and says why in one line).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Run summary"),
    ("streams", "Stream rates and drops"),
    ("reprojection", "Reprojection error per camera"),
    ("trajectories", "Trajectories on the floor plan"),
    ("bones", "Bone-length stability"),
    ("mpjpe", "MPJPE against ground truth"),
)

_CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#e3e6ec; --accent:#3f51b5; --warn:#b26a00; --bad:#b00020; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; color:var(--ink); background:#f6f7fa; }
header { background:#fff; border-bottom:1px solid var(--line); padding:22px 40px 14px; }
h1 { margin:0 0 4px; font-size:24px; }
.sub { color:var(--muted); margin:0; font-size:13px; word-break:break-all; }
nav { padding:8px 40px; background:#fff; border-bottom:1px solid var(--line); font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; }
main { max-width:1180px; margin:0 auto; padding:10px 40px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 22px 18px; margin:18px 0; }
h2 { font-size:19px; margin:0 0 10px; }
.note { color:var(--muted); font-style:italic; margin:4px 0; }
.banner { border-radius:6px; padding:10px 14px; margin:16px 0 0; font-weight:600; }
.banner.warn { background:#fff4e0; border:1px solid #f0c36d; color:var(--warn); }
.banner.bad { background:#fde8ea; border:1px solid #f3a3ad; color:var(--bad); }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:6px 0 14px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 16px; min-width:130px; }
.card .v { font-size:22px; font-weight:650; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.bad .v { color:var(--bad); }
figure { margin:8px 0 12px; }
figure img { max-width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:13px; }
table { border-collapse:collapse; font-size:13px; margin:8px 0; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:right; }
th:first-child, td:first-child { text-align:left; }
th { color:var(--muted); font-weight:600; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 0 30px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _img(data: bytes, fmt: str, alt: str, caption: str = "") -> str:
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{_e(alt)}">{cap}</figure>'


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(key: str, value: object, *, bad: bool = False) -> str:
    return (
        f'<div class="card{" bad" if bad else ""}"><div class="v">{_e(value)}</div><div class="k">{_e(key)}</div></div>'
    )


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _summary_html(data: ReportData, tables: Mapping[str, Any]) -> str:
    s = data.summary
    parts = ['<div class="cards">']
    parts.append(_card("duration (sensor time)", f"{s.duration_s:.2f} s"))
    parts.append(_card("framesets", s.framesets if s.framesets is not None else "–"))
    if s.partial_framesets:
        parts.append(_card("partial framesets", s.partial_framesets))
    parts.append(_card("frames dropped", s.drops_total, bad=s.drops_total > 0))
    parts.append(_card("errors", s.errors_total, bad=s.errors_total > 0))
    parts.append(_card("events", len(s.events), bad=any(k != "end_of_stream" for k in s.event_counts)))
    parts.append(_card("frames committed", s.committed_frames))
    if s.wall_s is not None:
        parts.append(_card("wall time", f"{s.wall_s:.1f} s"))
    parts.append("</div>")
    if s.error:
        parts.append(f'<p class="banner bad">the run ended with an error: {_e(s.error)}</p>')
    for sink, summary in sorted(s.sinks.items()):
        rows = [(k, v) for k, v in summary.items() if isinstance(v, int | float | str) or v is None]
        if rows:
            parts.append(f"<h3>sink <code>{_e(sink)}</code></h3>")
            parts.append(_table(("metric", "value"), [(k, "–" if v is None else v) for k, v in rows]))
    if s.drops:
        parts.append("<h3>drops by reason</h3>")
        parts.append(
            _table(
                ("stream", "reason", "frames"),
                [(k, r, n) for k, v in sorted(s.drops.items()) for r, n in sorted(v.items())],
            )
        )
    if s.events:
        parts.append(f"<h3>events ({len(s.events)})</h3>")
        shown = s.events[:40]
        parts.append(
            _table(
                ("time since start (s)", "kind", "source", "message"),
                [
                    (
                        _fmt((int(e["t_ns"]) - tables["t0_ns"]) / 1e9, 3) if isinstance(e.get("t_ns"), int) else "–",
                        e.get("kind", ""),
                        e.get("source", ""),
                        e.get("message", ""),
                    )
                    for e in shown
                ],
            )
        )
        if len(s.events) > len(shown):
            parts.append(f'<p class="note">… and {len(s.events) - len(shown)} more events</p>')
    else:
        parts.append('<p class="note">no events (no driver failure, stage error or interruption was recorded)</p>')
    for note in data.notes:
        parts.append(f'<p class="note">{_e(note)}</p>')
    sw = ", ".join(f"{k} {v}" for k, v in sorted(s.software.items()))
    if sw:
        parts.append(f'<p class="note">recorded with {_e(sw)}</p>')
    return "".join(parts)


def render_html(
    data: ReportData,
    figures: Mapping[str, tuple[bytes, str, str]],
    tables: Mapping[str, Any],
    *,
    generator: str,
) -> str:
    """The page. ``figures``: section id -> (bytes, ``svg``|``png``, caption); ``tables``: the
    section tables (``streams``, ``reprojection``, ``bones``, ``mpjpe`` rows) and ``t0_ns``."""
    s = data.summary
    title = f"Session report — {s.rig_name or 'unnamed rig'}"
    state = "finished" if s.finished else "NOT finished"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="sub">{_e(s.path)} · created {_e(s.created or "unknown")} · {state}'
        + (f" · 3D stream <code>{_e(data.skeleton_stream)}</code>" if data.skeleton_stream else "")
        + "</p>",
    ]
    if not s.finished:
        out.append(
            '<p class="banner warn">This recording did not finish (it was killed or crashed): the report covers the '
            f"{s.committed_frames} frames committed before it stopped, and the statistics stored at its last commit.</p>"
        )
    out.append("</header><nav>" + "".join(f'<a href="#{sid}">{_e(h)}</a>' for sid, h in SECTIONS) + "</nav><main>")
    results: dict[str, object] = {
        "streams": data.streams,
        "reprojection": data.reprojection,
        "trajectories": data.trajectories,
        "bones": data.bones,
        "mpjpe": data.mpjpe,
    }
    for sid, heading in SECTIONS:
        out.append(f'<section id="{sid}"><h2>{_e(heading)}</h2>')
        if sid == "summary":
            out.append(_summary_html(data, tables))
        elif isinstance(skipped := results[sid], Skipped):
            out.append(f'<p class="note">Not shown: {_e(skipped.reason)}.</p>')
        else:
            for note in tables.get(f"{sid}_notes", []):
                out.append(f'<p class="note">{_e(note)}</p>')
            if sid in figures:
                img, fmt, caption = figures[sid]
                out.append(_img(img, fmt, heading, caption))
            if sid in tables:
                header, rows = tables[sid]
                out.append(_table(header, rows))
        out.append("</section>")
    out.append(f"</main><footer>{_e(generator)}</footer></body></html>")
    return "\n".join(out)

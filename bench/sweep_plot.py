"""SVG plot of the sparsity sweep: speedup against sparsity, with the ideal lines. Standard library
only (there is no matplotlib here); used by bench/sparse_sweep.py.

One chart per model. x: sparsity of the pruned weights, 1 - density (linear, 0 to 1). y: speedup,
log scale (base 2). Series:
  - nnzc vs ONNX Runtime      ORT latency / nnzc latency on the same pruned model
  - nnzc vs nnzc dense        nnzc --kernels dense latency / nnzc latency (same model)
  - ideal 1/density           the weights' density only (the curve)
  - ideal by MACs             dense MACs / non-zero MACs of every Conv and Gemm (what skipping every
                              zero, and nothing else, would give)
Marker shape says the kind of point: circle unstructured (global), ring layer-wise unstructured,
diamond N:M, triangle TASD, square dense; lines join the dense and global unstructured points only
(the others are single points, labelled).
"""
import math
from xml.sax.saxutils import escape

W, H = 800, 460
ML, MR, MT, MB = 70, 250, 40, 60   # margins: the legend goes on the right
COLORS = {"ort": "#1f77b4", "dense": "#d62728", "ideal": "#555555", "macs": "#2ca02c"}


def _fmt(v):
    return ("%.2f" % v).rstrip("0").rstrip(".")


def _marker(kind, x, y, color, r=5):
    if kind == "nm":
        return '<path d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>' % (
            x, y - r - 1, x + r + 1, y, x, y + r + 1, x - r - 1, y, color)
    if kind == "tasd":
        return '<path d="M%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>' % (
            x, y - r - 1, x + r + 1, y + r, x - r - 1, y + r, color)
    if kind == "layerwise":
        return '<circle cx="%.1f" cy="%.1f" r="%d" fill="white" stroke="%s" stroke-width="2"/>' % (x, y, r, color)
    if kind == "dense":
        return '<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="%s"/>' % (x - r, y - r, 2 * r, 2 * r, color)
    return '<circle cx="%.1f" cy="%.1f" r="%d" fill="%s"/>' % (x, y, r, color)


def svg(title, points, note=None):
    """points: dicts with kind (dense|unstructured|layerwise|nm|tasd), label, density, ideal_macs and the
    speedups vs_ort, vs_dense (None when not measured). Returns the SVG text."""
    ys = [1.0 / max(p["density"], 1e-3) for p in points] + [p["ideal_macs"] for p in points]
    ys += [p[k] for p in points for k in ("vs_ort", "vs_dense") if p.get(k)]
    lo = 2.0 ** math.floor(math.log2(min(ys + [1.0]) / 1.05))
    hi = 2.0 ** math.ceil(math.log2(max(ys + [2.0]) * 1.05))
    pw, ph = W - ML - MR, H - MT - MB

    def px(s):
        return ML + s * pw

    def py(v):
        return MT + ph - (math.log2(v) - math.log2(lo)) / (math.log2(hi) - math.log2(lo)) * ph

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (W, H, W, H),
           '<rect width="%d" height="%d" fill="white"/>' % (W, H),
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (ML, escape(title))]
    # Grid and axes.
    for i in range(11):
        s = i / 10
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>' % (px(s), MT, px(s), MT + ph))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d%%</text>' % (px(s), MT + ph + 18, i * 10))
    v = lo
    while v <= hi * 1.0001:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
                   % (ML, py(v), ML + pw, py(v), "#999" if v == 1 else "#e5e5e5"))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%sx</text>' % (ML - 6, py(v) + 4, _fmt(v)))
        v *= 2
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' % (ML, MT, pw, ph))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">sparsity of the pruned weights (1 - density)</text>'
               % (ML + pw / 2, H - 18))
    out.append('<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">speedup (log scale)</text>'
               % (MT + ph / 2))
    # The ideal 1/density curve, up to the sparsest point.
    smax = max([1 - p["density"] for p in points] + [0.5])
    curve = ["%.1f,%.1f" % (px(s), py(1 / (1 - s))) for s in [smax * i / 60 for i in range(61)]
             if lo <= 1 / (1 - s) <= hi]
    out.append('<polyline points="%s" fill="none" stroke="%s" stroke-dasharray="6 4"/>' % (" ".join(curve), COLORS["ideal"]))
    # Measured series and the MAC ideal: lines through the dense and unstructured points.
    order = sorted(points, key=lambda p: 1 - p["density"])
    for key, color in (("ideal_macs", COLORS["macs"]), ("vs_dense", COLORS["dense"]), ("vs_ort", COLORS["ort"])):
        line = [p for p in order if p["kind"] in ("dense", "unstructured") and p.get(key)]
        if len(line) > 1:
            out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="%s"%s/>' % (
                " ".join("%.1f,%.1f" % (px(1 - p["density"]), py(p[key])) for p in line), color,
                "1.5" if key == "ideal_macs" else "2", ' stroke-dasharray="2 3"' if key == "ideal_macs" else ""))
        for p in order:
            if p.get(key):
                out.append(_marker(p["kind"], px(1 - p["density"]), py(p[key]), color, 3 if key == "ideal_macs" else 5))
    # Labels of the structured points, next to their vs-ORT marker (or the MAC ideal's).
    for p in points:
        if p["kind"] in ("nm", "tasd", "layerwise"):
            y = p.get("vs_ort") or p["ideal_macs"]
            out.append('<text x="%.1f" y="%.1f" font-size="11">%s</text>' % (px(1 - p["density"]) + 8, py(y) - 6,
                                                                             escape(p["label"])))
    # Legend.
    lx, ly = ML + pw + 16, MT + 10
    items = [("line", COLORS["ort"], "nnzc vs ONNX Runtime"), ("line", COLORS["dense"], "nnzc vs nnzc dense"),
             ("dash", COLORS["ideal"], "ideal: 1 / density"), ("dot", COLORS["macs"], "ideal: dense / non-zero MACs")]
    for i, (style, color, text) in enumerate(items):
        y = ly + 18 * i
        dash = {"dash": ' stroke-dasharray="6 4"', "dot": ' stroke-dasharray="2 3"'}.get(style, "")
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>' % (lx, y, lx + 24, y, color, dash))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 30, y + 4, escape(text)))
    y = ly + 18 * len(items) + 10
    kinds = (("dense", "dense model"), ("unstructured", "unstructured (global)"),
             ("layerwise", "unstructured (layer-wise)"), ("nm", "N:M"), ("tasd", "TASD series"))
    for i, (kind, text) in enumerate(kinds):
        out.append(_marker(kind, lx + 12, y + 18 * i, "#333"))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 30, y + 18 * i + 4, escape(text)))
    if note:
        for i, ln in enumerate(note.split("\n")):
            out.append('<text x="%d" y="%d" font-size="10" fill="#555">%s</text>' % (lx, y + 18 * len(kinds) + 10 + 13 * i, escape(ln)))
    out.append("</svg>")
    return "\n".join(out) + "\n"

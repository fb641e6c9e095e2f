#!/usr/bin/python3
"""Per-layer SVG plot of the modeled accelerator's cycles and energy.

    nnzc bench MODEL --target accel --accel-config stc --report stc.json
    nnzc bench MODEL --target accel --accel-config dense --report dense.json
    /usr/bin/python3 bench/accel_plot.py stc.json dense.json -o layers.svg [--title T] [--top N]

Each REPORT is the JSON `nnzc run/bench --target accel --report` writes (one per preset or
configuration; their layer lists are matched by layer name). The plot has two panels, cycles and
energy (uJ), with one group of bars per layer (the N layers with the most cycles in the first
report, in network order; default all) and one bar per report. Layers that ran on the host
fallback are not in the reports' layer lists and are not drawn. Standard library only.
"""
import argparse
import json
import sys
from xml.sax.saxutils import escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
W, PANEL_H, MT, ML, MR, GAP = 900, 230, 40, 70, 160, 70


def load(path):
    with open(path) as f:
        rep = json.load(f)
    if rep.get("target") != "accel" or not isinstance(rep.get("layers"), list):
        raise ValueError("%s: not an accelerator report (nnzc ... --target accel --report FILE)" % path)
    label = rep.get("config") or path
    return label, {layer["name"]: layer for layer in rep["layers"]}, [layer["name"] for layer in rep["layers"]]


def panel(out, y0, title, names, series, key, scale=1.0):
    vmax = max([s[1].get(n, {}).get(key, 0) * scale for s in series for n in names] + [1e-12])
    pw = W - ML - MR
    out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (ML, y0 - 8, escape(title)))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' % (ML, y0, pw, PANEL_H))
    for i in range(5):
        v = vmax * i / 4
        y = y0 + PANEL_H - PANEL_H * i / 4
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>' % (ML, y, ML + pw, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end" font-size="10">%.3g</text>' % (ML - 4, y + 3, v))
    group = pw / max(len(names), 1)
    bar = group * 0.8 / max(len(series), 1)
    for i, n in enumerate(names):
        for j, (_, layers, _) in enumerate(series):
            v = layers.get(n, {}).get(key)
            if v is None:
                continue
            h = PANEL_H * v * scale / vmax
            x = ML + i * group + group * 0.1 + j * bar
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.4g</title></rect>'
                       % (x, y0 + PANEL_H - h, max(bar - 0.5, 0.5), h, COLORS[j % len(COLORS)], escape(n), v * scale))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--title", default="modeled accelerator: cycles and energy per layer")
    ap.add_argument("--top", type=int, default=0, help="only the N layers with the most cycles (0: all)")
    a = ap.parse_args()
    try:
        series = [load(p) for p in a.reports]
    except (OSError, ValueError, KeyError) as e:
        print("accel_plot: %s" % e, file=sys.stderr)
        return 1
    names = series[0][2]
    if a.top > 0:
        keep = set(sorted(names, key=lambda n: -series[0][1][n].get("cycles", 0))[:a.top])
        names = [n for n in names if n in keep]
    height = MT + 2 * PANEL_H + GAP + 40
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (W, height, W, height),
           '<rect width="%d" height="%d" fill="white"/>' % (W, height),
           '<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>' % (ML, escape(a.title))]
    panel(out, MT + 10, "cycles", names, series, "cycles")
    panel(out, MT + 10 + PANEL_H + GAP, "energy (uJ)", names, series, "energy_uj")
    out.append('<text x="%d" y="%d" font-size="11">%d layers in network order (hover a bar for its name)</text>'
               % (ML, height - 12, len(names)))
    for j, (label, _, _) in enumerate(series):
        y = MT + 20 + 18 * j
        out.append('<rect x="%d" y="%d" width="14" height="10" fill="%s"/>' % (W - MR + 16, y - 9, COLORS[j % len(COLORS)]))
        out.append('<text x="%d" y="%d">%s</text>' % (W - MR + 36, y, escape(str(label))))
    out.append("</svg>")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

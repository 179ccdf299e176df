"""The paper's figures as plotly charts: scores per train->test group (Figs. 5-7), per AU (Fig. 4), faces (Fig. 2)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"]


def text(value: object) -> str:
    """A user string as plotly shows text: its own tags (<b>, <a href>, <br>) escaped to entities, which plotly turns
    back into the characters. User strings never enter a hovertemplate (its %{...} is live): they travel as data."""
    return html.escape(str(value), quote=False)


def conditions_figure(conditions: pd.DataFrame) -> go.Figure:
    """Mean score ± standard error per train -> test combination, one bar per normalizer (Figures 5-7)."""
    fig = go.Figure()
    order = conditions.sort_values(["condition", "train_group", "test_group"], ascending=[False, True, True])
    test_only = bool(len(order)) and bool((order["condition"] == "test-only").all())

    def label(r: object) -> str:  # a test-only audit trained nothing: its bars are the tested groups alone
        return text(r.test_group) if test_only else f"{text(r.train_group)} → {text(r.test_group)}"

    labels = list(dict.fromkeys(label(r) for r in order.itertuples()))
    for i, (norm, grp) in enumerate(order.groupby("normalizer", sort=False)):
        grp = grp.assign(label=[label(r) for r in grp.itertuples()])
        grp = grp.set_index("label").reindex(labels)
        fig.add_bar(
            name=text(norm),
            x=labels,
            y=100 * grp["score"],
            error_y={"type": "data", "array": 100 * grp["sem"]},
            texttemplate="%{y:.1f}",
            textposition="inside",
            insidetextanchor="start",
            marker_color=PALETTE[i % len(PALETTE)],
            customdata=np.stack([grp["condition"], grp["subjects"], grp["repetitions"]], axis=1),
            hovertemplate="%{x}<br>%{customdata[0]}: %{y:.1f} ± %{error_y.array:.1f}"
            "<br>%{customdata[1]} subjects, %{customdata[2]} repetitions<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="score (mean of F1 and accuracy, %)",
                      xaxis_title="tested group" if test_only else "train → test group",
                      legend_title="normalizer", margin={"t": 30}, height=420)
    return fig


def per_au_figure(per_au: pd.DataFrame) -> go.Figure:
    """Score per AU for each normalizer, within and cross conditions (Figure 4)."""
    conditions = [c for c in ("cross", "within", "test-only") if c in set(per_au["condition"])]
    fig = make_subplots(rows=1, cols=len(conditions), subplot_titles=[f"{c}-group" if c != "test-only" else c
                                                                      for c in conditions], shared_yaxes=True)
    for col, cond in enumerate(conditions, start=1):
        for i, (norm, grp) in enumerate(per_au[per_au["condition"] == cond].groupby("normalizer", sort=False)):
            fig.add_bar(name=text(norm), x=[text(a) for a in grp["au"]], y=100 * grp["score"],
                        marker_color=PALETTE[i % len(PALETTE)], showlegend=col == 1, legendgroup=text(norm),
                        meta=[text(norm), cond], hovertemplate="%{x}: %{y:.1f}<extra>%{meta[0]} (%{meta[1]})</extra>",
                        row=1, col=col)
    fig.update_layout(barmode="group", yaxis_title="score (%)", legend_title="normalizer", margin={"t": 40}, height=380)
    return fig


def faces_figure(faces: dict[str, dict[str, np.ndarray]]) -> go.Figure:
    """Average face of each group per normalizer, with its luminance histogram (Figure 2). faces[group][normalizer]."""
    groups = list(faces)
    norms = list(next(iter(faces.values())))
    fig = make_subplots(rows=len(norms) + 1, cols=len(groups), subplot_titles=[text(g) for g in groups],
                        vertical_spacing=0.06, horizontal_spacing=0.03)
    for c, g in enumerate(groups, start=1):
        for r, n in enumerate(norms, start=1):
            img = faces[g][n]
            fig.add_trace(go.Heatmap(z=img[::-1], colorscale="gray", zmin=0, zmax=255, showscale=False,
                                     meta=[text(g), text(n)], hovertemplate="%{meta[0]}, %{meta[1]}<extra></extra>"),
                          row=r, col=c)
            fig.update_xaxes(visible=False, row=r, col=c)
            fig.update_yaxes(
                visible=False,
                scaleanchor=f"x{(r - 1) * len(groups) + c if (r - 1) * len(groups) + c > 1 else ''}",
                row=r,
                col=c,
            )
            counts, edges = np.histogram(img, bins=32, range=(0, 256))
            fig.add_trace(go.Bar(x=edges[:-1], y=counts, name=text(n), marker_color=PALETTE[(r - 1) % len(PALETTE)],
                                 opacity=0.6, showlegend=c == 1, legendgroup=text(n)), row=len(norms) + 1, col=c)
    for c in range(1, len(groups) + 1):
        fig.update_xaxes(title_text="grey level", row=len(norms) + 1, col=c)
    fig.update_yaxes(title_text="pixels", row=len(norms) + 1, col=1)
    for r, n in enumerate(norms, start=1):
        # a row label on the left: which normalizer produced the average faces of that row
        axis = (r - 1) * len(groups) + 1
        fig.add_annotation(text=f"<b>{text(n)}</b>", textangle=-90, showarrow=False, xref="paper",
                           yref=f"y{axis if axis > 1 else ''} domain", x=-0.02, y=0.5, xanchor="right")
    fig.update_layout(barmode="overlay", height=260 * (len(norms) + 1), margin={"t": 40, "l": 60},
                      legend_title="normalizer")
    return fig


def score_disparity_figure(models: pd.DataFrame, disparities: pd.DataFrame, pair: tuple[str, str] | None) -> go.Figure:
    """Compared models: overall score against the signed difference between two groups, both with their 95% CIs."""
    fig = go.Figure()
    for i, m in enumerate(models.itertuples()):
        if pair is not None:
            d = disparities[(disparities["model"] == m.model) & (disparities["group_a"] == pair[0])
                            & (disparities["group_b"] == pair[1])].iloc[0]
            x, lo, hi = 100 * d["difference"], 100 * d["difference_ci_low"], 100 * d["difference_ci_high"]
        else:
            x = lo = hi = 0.0
        y = 100 * m.score
        fig.add_scatter(x=[x], y=[y], mode="markers+text", name=text(m.model), text=[text(m.model)],
                        textposition="top center", marker={"size": 12, "color": PALETTE[i % len(PALETTE)]},
                        error_x={"type": "data", "symmetric": False, "array": [hi - x], "arrayminus": [x - lo]},
                        error_y={"type": "data", "symmetric": False, "array": [100 * m.score_ci_high - y],
                                 "arrayminus": [y - 100 * m.score_ci_low]},
                        meta=[text(m.model)],
                        hovertemplate="%{meta[0]}<br>difference %{x:+.1f} points<br>score %{y:.1f}<extra></extra>")
    fig.add_vline(x=0, line_dash="dot", line_color="#888")
    title = f"{text(pair[0])} − {text(pair[1])} (points)" if pair is not None else "no second group"
    fig.update_layout(xaxis_title=title, yaxis_title="overall score (mean of F1 and accuracy, %)",
                      legend_title="model", margin={"t": 30}, height=420)
    return fig


def group_scores_figure(groups: pd.DataFrame) -> go.Figure:
    """Compared models: mean score per test group, one bar per model, with their 95% intervals."""
    fig = go.Figure()
    labels = [text(g) for g in sorted(groups["test_group"].unique())]
    for i, (model, grp) in enumerate(groups.groupby("model", sort=False)):
        grp = grp.assign(label=[text(g) for g in grp["test_group"]]).set_index("label").reindex(labels)
        fig.add_bar(name=text(model), x=labels, y=100 * grp["score"], marker_color=PALETTE[i % len(PALETTE)],
                    error_y={"type": "data", "symmetric": False, "array": 100 * (grp["score_ci_high"] - grp["score"]),
                             "arrayminus": 100 * (grp["score"] - grp["score_ci_low"])},
                    texttemplate="%{y:.1f}", textposition="inside", insidetextanchor="start",
                    meta=[text(model)], hovertemplate="%{x}: %{y:.1f}<extra>%{meta[0]}</extra>")
    fig.update_layout(barmode="group", yaxis_title="score (%)", xaxis_title="test group", legend_title="model",
                      margin={"t": 30}, height=400)
    return fig

// Ferrite's dashboard page: draws what the ui-* nodes registered on the server's UiHub
// (runtime/src/ui.rs) and sends the inputs of buttons, switches and sliders back.
// Plain script, no build step. Protocol (runtime/src/admin/dashboard.rs): the server sends
// {type:"layout", items} on connect and after each deploy, {type:"msg", id, msg} live, and
// {type:"error", id, message} for a refused input; the page sends {type:"input", id, msg}.
"use strict";

(function () {
    const SVG = "http://www.w3.org/2000/svg";
    const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    const RETRY_MIN_MS = 500;
    const RETRY_MAX_MS = 10000;

    // Everything the server registered, by id, with states kept current by live messages.
    let items = new Map();
    // Chart points by chart id, outside the DOM so they survive switching pages.
    let charts = new Map();
    // What is drawn now: widget id -> {update(msg)}, and uPlot instances to free on redraw.
    let widgets = new Map();
    let plots = [];
    let socket = null;
    let retryMs = RETRY_MIN_MS;
    // Until the first chart is drawn, the page marks its load timeline (socket open, frame
    // received, parsed) for tests/browser/dashboard.mjs; __ferriteChartDrawnMs ends it.
    let chartDrawn = false;
    let renderQueued = false;

    const $ = (id) => document.getElementById(id);
    const num = (v, dflt) => {
        const n = typeof v === "number" ? v : parseFloat(v);
        return Number.isFinite(n) ? n : dflt;
    };
    const el = (tag, cls, text) => {
        const e = document.createElement(tag);
        if (cls) e.className = cls;
        if (text !== undefined) e.textContent = text;
        return e;
    };
    const byOrder = (a, b) => a.order - b.order;
    const childrenOf = (id, kind) => [...items.values()].filter((i) => i.parent === id && (!kind || i.kind === kind)).sort(byOrder);

    // ---- connection -------------------------------------------------------------------

    function connect() {
        const url = new URL("ws", location.href);
        url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
        socket = new WebSocket(url);
        socket.onopen = () => {
            if (!chartDrawn) performance.mark("ferrite:open");
            retryMs = RETRY_MIN_MS;
            banner(null);
        };
        socket.onmessage = (event) => {
            if (!chartDrawn) performance.mark("ferrite:frame");
            let frame;
            try {
                frame = JSON.parse(event.data);
            } catch (_) {
                return;
            }
            if (!chartDrawn) performance.mark("ferrite:parsed");
            if (frame.type === "layout") onLayout(frame.items || []);
            else if (frame.type === "msg") onMsg(frame.id, frame.msg || {});
            else if (frame.type === "error") toast({ text: frame.message, kind: "error" }, {});
        };
        socket.onclose = () => {
            socket = null;
            banner("Reconnecting\u2026");
            setTimeout(connect, retryMs);
            retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        };
    }

    function banner(text) {
        const b = $("banner");
        b.textContent = text || "";
        b.classList.toggle("shown", !!text);
    }

    const isEnabled = (item) => item.config.enabled !== false;

    function sendInput(id, msg) {
        const item = items.get(id);
        if (item && !isEnabled(item)) return;
        if (!socket || socket.readyState !== WebSocket.OPEN) {
            toast({ text: "Not connected: the input was not sent", kind: "warning" }, {});
            return;
        }
        socket.send(JSON.stringify({ type: "input", id, msg }));
    }

    // ---- layout -------------------------------------------------------------------------

    function onLayout(list) {
        items = new Map(list.map((i) => [i.id, i]));
        charts = new Map();
        for (const item of items.values()) {
            if (item.kind === "ui-chart") charts.set(item.id, chartStore(item));
        }
        // The layout can arrive before uPlot (loaded after this script) has run.
        if (document.readyState === "loading") {
            if (!renderQueued) document.addEventListener("DOMContentLoaded", render, { once: true });
            renderQueued = true;
        } else {
            render();
        }
    }

    function pages() {
        return [...items.values()].filter((i) => i.kind === "ui-page").sort(byOrder);
    }

    function currentPage() {
        const all = pages();
        const wanted = decodeURIComponent(location.hash.slice(1));
        return all.find((p) => (p.config.path || p.id) === wanted) || all[0];
    }

    function applyTheme(page) {
        const themes = [...items.values()].filter((i) => i.kind === "ui-theme");
        const theme = themes.find((t) => page && t.id === page.config.theme) || themes[0];
        const colors = (theme && theme.config.colors) || {};
        const root = document.documentElement.style;
        for (const [key, prop] of [["surface", "--surface"], ["primary", "--primary"], ["bgPage", "--bg-page"], ["groupBg", "--group-bg"], ["groupOutline", "--group-outline"]]) {
            if (colors[key]) root.setProperty(prop, colors[key]);
            else root.removeProperty(prop);
        }
        // The header's text must stay readable on whatever surface colour the theme picks.
        root.setProperty("--on-surface", isDark(colors.surface) ? "#ffffff" : "#222222");
    }

    // Whether a #rgb / #rrggbb colour is dark (relative luminance below one half).
    function isDark(color) {
        const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color || "");
        if (!hex) return false;
        const h = hex[1].length === 3 ? [...hex[1]].map((c) => c + c).join("") : hex[1];
        const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5;
    }

    function render() {
        for (const plot of plots) plot.destroy();
        plots = [];
        widgets = new Map();
        const page = currentPage();
        applyTheme(page);
        const base = [...items.values()].find((i) => i.kind === "ui-base");
        $("title").textContent = (base && base.config.name) || "Dashboard";
        document.title = page ? `${page.config.name || "Dashboard"} - Ferrite` : "Ferrite Dashboard";

        const nav = $("pages");
        nav.replaceChildren(...pages().map((p) => {
            const a = el("a", p === page ? "active" : "", p.config.name || p.id);
            a.href = "#" + encodeURIComponent(p.config.path || p.id);
            return a;
        }));

        const main = $("page");
        main.replaceChildren();
        if (!page) {
            main.append(el("p", "empty", "Nothing on the dashboard yet: deploy a flow with ui nodes."));
            return;
        }
        for (const group of childrenOf(page.id, "ui-group")) main.append(renderGroup(group));
    }

    function renderGroup(group) {
        const width = Math.min(Math.max(num(group.config.width, 6), 1), 12);
        const box = el("section", "group");
        box.style.setProperty("--w", width);
        if (group.config.showTitle !== false && group.config.name) box.append(el("h2", "", group.config.name));
        const grid = el("div", "widgets");
        grid.style.setProperty("--w", width);
        box.append(grid);
        for (const item of childrenOf(group.id)) {
            if (item.kind === "ui-notification") continue;
            // FlowFuse's dynamic properties: msg.visible false hides a widget, msg.enabled
            // false greys it out and stops its inputs.
            if (item.config.visible === false) continue;
            const cell = el("div", "widget " + item.kind.replace(/^ui-/, ""));
            if (!isEnabled(item)) cell.classList.add("disabled");
            // msg.class: the flow author's CSS classes, as FlowFuse puts them on the widget.
            if (typeof item.config.class === "string") cell.classList.add(...item.config.class.split(/\s+/).filter(Boolean));
            const w = num(item.config.width, 0);
            cell.style.setProperty("--ww", w > 0 ? Math.min(w, width) : width);
            const h = num(item.config.height, 0);
            if (h > 0) cell.style.setProperty("--wh", h);
            grid.append(cell);
            const make = WIDGETS[item.kind];
            if (make) widgets.set(item.id, make(item, cell));
            else cell.append(el("span", "unknown", item.kind));
        }
        return box;
    }

    // ---- live messages ------------------------------------------------------------------

    function onMsg(id, msg) {
        const item = items.get(id);
        if (!item) return;
        if (item.kind === "ui-notification") {
            toast(msg, item.config);
            return;
        }
        if (item.kind === "ui-chart") {
            const store = charts.get(id);
            if (store) store.apply(msg);
        } else if (msg && typeof msg === "object" && !Array.isArray(msg)) {
            // The widget states are what their messages say: later renders start from it.
            item.state = Object.assign({}, item.state || {}, msg);
        }
        const widget = widgets.get(id);
        if (widget) widget.update(msg);
    }

    // ---- charts -------------------------------------------------------------------------

    // A chart's points by series, with FlowFuse's removeOlder / removeOlderPoints pruning.
    function chartStore(item) {
        const cfg = item.config;
        const series = new Map();
        const maxAgeMs = num(cfg.removeOlderMs, 0);
        const maxPoints = num(cfg.removeOlderPoints, 0);
        // A category axis draws its x values (text) at 0, 1, 2, ... in first-seen order.
        const category = cfg.xAxisType === "category";
        const cats = [];
        const catAt = new Map();
        const xOf = (x) => {
            if (!category) return num(x, null);
            const key = String(x);
            let i = catAt.get(key);
            if (i === undefined) {
                i = cats.length;
                cats.push(key);
                catAt.set(key, i);
            }
            return i;
        };
        let listener = null;
        const add = (name, x, y) => {
            let s = series.get(name);
            if (!s) series.set(name, (s = { xs: [], ys: [] }));
            s.xs.push(x);
            s.ys.push(y);
        };
        const prune = () => {
            const oldest = cfg.xAxisType === "time" && maxAgeMs > 0 ? Date.now() - maxAgeMs : -Infinity;
            for (const s of series.values()) {
                let drop = 0;
                while (drop < s.xs.length && s.xs[drop] < oldest) drop++;
                if (maxPoints > 0) drop = Math.max(drop, s.xs.length - maxPoints);
                if (drop > 0) {
                    s.xs.splice(0, drop);
                    s.ys.splice(0, drop);
                }
            }
        };
        // One series' columns as ui_chart.rs sends them (state and live msgs alike):
        // {y: [...], dx: [x0, x1 - x0, ...]} (integer x, delta-encoded: prefix-summed back) or
        // {y: [...], x: [...]} (x as given: category text, fractional x). Decoded straight into
        // the x and y arrays, no object per point.
        const decode = (cols) => {
            const ys = Array.isArray(cols && cols.y) ? cols.y : [];
            const dx = Array.isArray(cols && cols.dx) ? cols.dx : null;
            const given = dx || (Array.isArray(cols && cols.x) ? cols.x : []);
            const n = Math.min(ys.length, given.length);
            if (dx) {
                const xs = new Array(n);
                let x = 0;
                for (let i = 0; i < n; i++) {
                    x += dx[i];
                    xs[i] = category ? xOf(x) : x;
                }
                return { xs, ys: ys.length === n ? ys : ys.slice(0, n) };
            }
            // Given x may not be plottable (text on a numeric axis): such points are left out.
            const xs = [];
            const kept = [];
            for (let i = 0; i < n; i++) {
                const x = xOf(given[i]);
                if (x !== null) {
                    xs.push(x);
                    kept.push(ys[i]);
                }
            }
            return { xs, ys: kept };
        };
        const addAll = (all) => {
            for (const [name, cols] of Object.entries(all || {})) {
                const { xs, ys } = decode(cols);
                const s = series.get(name);
                if (!s) {
                    series.set(name, { xs, ys });
                    continue;
                }
                for (let i = 0; i < xs.length; i++) add(name, xs[i], ys[i]);
            }
        };
        addAll(item.state && item.state.series);
        prune();
        return {
            series,
            cats,
            listen(fn) { listener = fn; },
            apply(msg) {
                if (msg.action === "clear" || msg.action === "replace") {
                    series.clear();
                    cats.length = 0;
                    catAt.clear();
                }
                addAll(msg.series);
                prune();
                if (listener) listener();
            },
        };
    }

    // uPlot's aligned data: one x array, one y array per series. One series (the common and
    // the large case) becomes two typed arrays; several are merged on the union of their x.
    function alignedData(store) {
        const all = [...store.series.entries()];
        if (all.length === 1) {
            const s = all[0][1];
            const n = s.xs.length;
            const order = sortedIndex(s.xs);
            const xs = new Float64Array(n);
            const ys = new Float64Array(n);
            for (let i = 0; i < n; i++) {
                const j = order ? order[i] : i;
                xs[i] = s.xs[j];
                ys[i] = s.ys[j];
            }
            return { names: [all[0][0]], data: [xs, ys] };
        }
        const xset = new Set();
        for (const [, s] of all) for (const x of s.xs) xset.add(x);
        const xs = Float64Array.from(xset).sort();
        const at = new Map();
        xs.forEach((x, i) => at.set(x, i));
        const data = [xs];
        for (const [, s] of all) {
            const ys = new Array(xs.length).fill(null);
            for (let i = 0; i < s.xs.length; i++) ys[at.get(s.xs[i])] = s.ys[i];
            data.push(ys);
        }
        return { names: all.map(([name]) => name), data };
    }

    // Null when already in x order (points usually arrive in time order).
    function sortedIndex(xs) {
        for (let i = 1; i < xs.length; i++) {
            if (xs[i] < xs[i - 1]) return [...xs.keys()].sort((a, b) => xs[a] - xs[b]);
        }
        return null;
    }

    function chartOptions(cfg, cats, names, width, height) {
        const colors = Array.isArray(cfg.colors) && cfg.colors.length ? cfg.colors : PALETTE;
        const kind = cfg.chartType || "line";
        const ymin = num(cfg.ymin, null);
        const ymax = num(cfg.ymax, null);
        const paths = kind === "bar" ? uPlot.paths.bars({ size: [0.6, 64] }) : kind === "scatter" ? () => null : undefined;
        return {
            width,
            height,
            ms: 1,
            legend: { show: cfg.showLegend !== false },
            cursor: { drag: { x: true, y: false } },
            scales: {
                x: cfg.xAxisType === "category"
                    ? { time: false, range: () => [-0.5, Math.max(cats.length, 1) - 0.5] }
                    : { time: (cfg.xAxisType || "time") === "time" },
                y: { range: (u, min, max) => [ymin ?? min, ymax ?? max] },
            },
            axes: [
                cfg.xAxisType === "category"
                    ? {
                        label: cfg.xAxisLabel || undefined,
                        splits: () => cats.map((_, i) => i),
                        values: (u, splits) => splits.map((i) => cats[i] ?? ""),
                    }
                    : { label: cfg.xAxisLabel || undefined },
                { label: cfg.yAxisLabel || undefined },
            ],
            series: [{}].concat(names.map((name, i) => {
                const color = colors[i % colors.length];
                return {
                    label: name || "series",
                    stroke: color,
                    fill: kind === "bar" ? color : undefined,
                    spanGaps: true,
                    paths,
                    // Lines leave points to uPlot, which shows them only where they do not crowd.
                    points: kind === "scatter" ? { show: true, size: 4, fill: color } : undefined,
                };
            })),
            hooks: {
                draw: [() => {
                    if (!chartDrawn) {
                        chartDrawn = true;
                        window.__ferriteChartDrawnMs = performance.now();
                    }
                }],
            },
        };
    }

    function makeChart(item, cell) {
        cell.classList.add("chart");
        if (item.config.label) cell.append(el("div", "label", item.config.label));
        const box = el("div");
        cell.append(box);
        const store = charts.get(item.id);
        let plot = null;
        let names = "";
        let pending = false;
        const size = () => ({
            width: Math.max(box.clientWidth || cell.clientWidth, 100),
            height: Math.max(num(item.config.height, 0) || 6, 2) * 48 - 40,
        });
        const draw = () => {
            pending = false;
            const { names: now, data } = alignedData(store);
            // A new series changes the chart's shape: build it again; otherwise only data.
            if (plot && now.join("\u0000") === names) {
                plot.setData(data);
                return;
            }
            if (plot) {
                plot.destroy();
                plots.splice(plots.indexOf(plot), 1);
            }
            names = now.join("\u0000");
            const { width, height } = size();
            plot = new uPlot(chartOptions(item.config, store.cats, now, width, height), data, box);
            plots.push(plot);
        };
        // Live points are drawn once per frame, however many messages the frame brought.
        store.listen(() => {
            if (!pending) {
                pending = true;
                requestAnimationFrame(draw);
            }
        });
        draw();
        new ResizeObserver(() => plot && plot.setSize(size())).observe(cell);
        return { update() {} };
    }

    // ---- gauge --------------------------------------------------------------------------

    const polar = (cx, cy, r, deg) => [cx + r * Math.cos((deg * Math.PI) / 180), cy + r * Math.sin((deg * Math.PI) / 180)];
    function arc(cx, cy, r, from, to) {
        const [x0, y0] = polar(cx, cy, r, from);
        const [x1, y1] = polar(cx, cy, r, to);
        return `M${x0.toFixed(2)} ${y0.toFixed(2)}A${r} ${r} 0 ${to - from > 180 ? 1 : 0} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
    }
    function svg(tag, attrs, text) {
        const e = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
        if (text !== undefined) e.textContent = text;
        return e;
    }

    function makeGauge(item, cell) {
        const cfg = item.config;
        const min = num(cfg.min, 0);
        const max = num(cfg.max, 10);
        const threeQuarter = cfg.gtype === "gauge-34";
        // Angles clockwise from 3 o'clock: a half gauge spans the top, a 3/4 gauge leaves the bottom open.
        const start = threeQuarter ? 135 : 180;
        const sweep = threeQuarter ? 270 : 180;
        const segments = (Array.isArray(cfg.segments) ? cfg.segments : []).map((s) => ({ from: num(s.from, min), color: s.color })).sort((a, b) => a.from - b.from);
        const angle = (v) => start + (sweep * (Math.min(Math.max(v, min), max) - min)) / (max - min || 1);
        const colorAt = (v) => segments.filter((s) => s.from <= v).map((s) => s.color).pop() || "var(--primary)";
        const [cx, cy, r] = [60, 60, 48];
        const view = threeQuarter ? "0 0 120 110" : "0 0 120 76";

        cell.classList.add("gauge");
        if (cfg.title) cell.append(el("div", "label title", cfg.title));
        const root = svg("svg", { viewBox: view, role: "img" });
        root.append(svg("path", { d: arc(cx, cy, r, start, start + sweep), fill: "none", stroke: "#ddd", "stroke-width": 12 }));
        segments.forEach((s, i) => {
            const to = i + 1 < segments.length ? segments[i + 1].from : max;
            if (to > s.from) root.append(svg("path", { d: arc(cx, cy, r + 9, angle(s.from), angle(to)), fill: "none", stroke: s.color, "stroke-width": 3 }));
        });
        const bar = svg("path", { fill: "none", "stroke-width": 12, "stroke-linecap": cfg.gstyle === "rounded" ? "round" : "butt" });
        const value = svg("text", { x: cx, y: threeQuarter ? cy + 6 : cy - 4, "text-anchor": "middle", class: "value" });
        root.append(bar, value);
        const [lx, ly] = polar(cx, cy, r, start);
        const [hx, hy] = polar(cx, cy, r, start + sweep);
        root.append(svg("text", { x: lx, y: ly + 14, "text-anchor": "middle", class: "limit" }, String(min)));
        root.append(svg("text", { x: hx, y: hy + 14, "text-anchor": "middle", class: "limit" }, String(max)));
        if (cfg.units) root.append(svg("text", { x: cx, y: threeQuarter ? cy + 22 : cy + 12, "text-anchor": "middle", class: "units" }, cfg.units));
        cell.append(root);

        const show = (state) => {
            const v = num(state && state.value, null);
            if (v === null) {
                bar.setAttribute("d", "");
                value.textContent = "-";
                return;
            }
            const to = angle(v);
            bar.setAttribute("d", to > start ? arc(cx, cy, r, start, to) : "");
            bar.setAttribute("stroke", colorAt(v));
            value.textContent = `${cfg.prefix || ""}${v}${cfg.suffix || ""}`;
        };
        show(item.state);
        return { update: () => show(item.state) };
    }

    // ---- text, table, inputs ------------------------------------------------------------

    function makeText(item, cell) {
        const cfg = item.config;
        cell.classList.add(cfg.layout || "row-spread");
        const label = el("span", "label", cfg.label || "");
        const value = el("span", "value");
        if (cfg.style) {
            if (cfg.font) value.style.fontFamily = cfg.font;
            if (cfg.fontSize) value.style.fontSize = `${num(cfg.fontSize, 16)}px`;
            if (cfg.color) value.style.color = cfg.color;
        }
        cell.append(label, value);
        // ui-text sends HTML, as FlowFuse renders it: the format is the flow author's, and the
        // values in it come escaped from {{ }} on the server.
        const show = () => { value.innerHTML = item.state && item.state.text != null ? String(item.state.text) : ""; };
        show();
        return { update: show };
    }

    function makeTable(item, cell) {
        const cfg = item.config;
        cell.classList.add("table");
        if (cfg.label) cell.append(el("div", "label", cfg.label));
        const table = el("table");
        // maxrows is rows per page, as FlowFuse paginates: no row is ever left out.
        const pager = el("div", "pager");
        const prev = el("button", "", "\u2039");
        const next = el("button", "", "\u203a");
        const where = el("span");
        prev.type = next.type = "button";
        prev.setAttribute("aria-label", "Previous page");
        next.setAttribute("aria-label", "Next page");
        pager.append(prev, where, next);
        cell.append(table, pager);
        let pageNo = 1;
        prev.addEventListener("click", () => { pageNo -= 1; show(); });
        next.addEventListener("click", () => { pageNo += 1; show(); });
        const show = () => {
            let rows = (item.state && Array.isArray(item.state.rows)) ? item.state.rows : [];
            const maxrows = Math.floor(num(cfg.maxrows, 0));
            const pagesOf = maxrows > 0 ? Math.max(Math.ceil(rows.length / maxrows), 1) : 1;
            pageNo = Math.min(Math.max(pageNo, 1), pagesOf);
            pager.hidden = pagesOf <= 1;
            prev.disabled = pageNo <= 1;
            next.disabled = pageNo >= pagesOf;
            where.textContent = `${pageNo} / ${pagesOf}`;
            if (maxrows > 0) rows = rows.slice((pageNo - 1) * maxrows, pageNo * maxrows);
            let columns = Array.isArray(cfg.columns) && cfg.columns.length ? cfg.columns : null;
            if (!columns) {
                const keys = new Set();
                for (const row of rows) if (row && typeof row === "object") Object.keys(row).forEach((k) => keys.add(k));
                columns = [...keys].map((key) => ({ key, label: key }));
            }
            const head = el("tr");
            head.append(...columns.map((c) => el("th", "", c.label || c.key)));
            const body = rows.map((row) => {
                const tr = el("tr");
                tr.append(...columns.map((c) => {
                    const v = row && typeof row === "object" ? row[c.key] : undefined;
                    return el("td", "", v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
                }));
                return tr;
            });
            table.replaceChildren(el("thead"), el("tbody"));
            table.tHead.append(head);
            table.tBodies[0].append(...body);
        };
        show();
        return { update: show };
    }

    function makeButton(item, cell) {
        const cfg = item.config;
        const button = el("button", "ui-button", cfg.label || "Button");
        button.type = "button";
        if (cfg.bgcolor) button.style.background = cfg.bgcolor;
        if (cfg.color) button.style.color = cfg.color;
        if (cfg.tooltip) button.title = cfg.tooltip;
        button.disabled = !isEnabled(item);
        button.addEventListener("click", () => sendInput(item.id, {}));
        cell.append(button);
        return { update() {} };
    }

    function makeSwitch(item, cell) {
        const input = el("input");
        input.type = "checkbox";
        input.setAttribute("role", "switch");
        input.disabled = !isEnabled(item);
        input.setAttribute("aria-label", item.config.label || "switch");
        cell.append(el("span", "label", item.config.label || ""), input);
        input.addEventListener("change", () => sendInput(item.id, { on: input.checked }));
        const show = () => { input.checked = !!(item.state && item.state.on); };
        show();
        return { update: show };
    }

    function makeSlider(item, cell) {
        const cfg = item.config;
        const label = el("label", "label");
        const input = el("input");
        input.type = "range";
        input.min = num(cfg.min, 0);
        input.max = num(cfg.max, 10);
        input.step = num(cfg.step, 1);
        input.disabled = !isEnabled(item);
        input.setAttribute("aria-label", cfg.label || "slider");
        const shown = el("span", "value");
        label.append(cfg.label || "", " ", shown);
        cell.append(label, input);
        let dragging = false;
        input.addEventListener("input", () => { dragging = true; shown.textContent = input.value; });
        // Sent once on release, as FlowFuse's default: not a message per pixel of a drag.
        input.addEventListener("change", () => {
            dragging = false;
            sendInput(item.id, { value: Number(input.value) });
        });
        const show = () => {
            if (dragging) return;
            const v = num(item.state && item.state.value, null);
            if (v !== null) input.value = v;
            shown.textContent = input.value;
        };
        show();
        return { update: show };
    }

    // ---- notifications ------------------------------------------------------------------

    function toast(msg, cfg) {
        const box = $("toasts");
        box.className = cfg.position || "top-right";
        const t = el("div", "toast " + (msg.kind || "info"));
        const text = el("span", "", msg.text == null ? "" : String(msg.text));
        const close = () => t.remove();
        if (cfg.allowDismiss !== false) {
            const x = el("button", "", "\u00d7");
            x.setAttribute("aria-label", "Dismiss");
            x.addEventListener("click", close);
            t.append(x);
        }
        t.append(text);
        // FlowFuse's displayTime is in seconds; 0 keeps the toast until dismissed.
        const ms = num(cfg.displayTime, 3) * 1000;
        if (ms > 0) {
            if (cfg.showCountdown) {
                const bar = el("div", "countdown");
                bar.animate([{ width: "100%" }, { width: "0%" }], { duration: ms, easing: "linear" });
                t.append(bar);
            }
            setTimeout(close, ms);
        }
        box.append(t);
    }

    const WIDGETS = {
        "ui-chart": makeChart,
        "ui-gauge": makeGauge,
        "ui-text": makeText,
        "ui-table": makeTable,
        "ui-button": makeButton,
        "ui-switch": makeSwitch,
        "ui-slider": makeSlider,
    };

    // Read-only, for tests/browser/demo.mjs: a chart's points as the page holds them
    // ({series: [[x, y], ...]}, null for no such chart), so a test can tell history
    // back-filled at load from points that arrived live; a canvas cannot be read back.
    window.__ferriteDashboard = {
        chartPoints(id) {
            const store = charts.get(id);
            if (!store) return null;
            const out = {};
            for (const [name, s] of store.series) out[name] = s.xs.map((x, i) => [x, s.ys[i]]);
            return out;
        },
    };

    window.addEventListener("hashchange", render);
    connect();
})();

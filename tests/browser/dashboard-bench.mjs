// Times Ferrite's dashboard page in Debian's headless Chromium for benches/dashboard.rs:
// opens <dashboardUrl> <runs> times, each in a fresh browser context (no cache, a new
// socket), waits until the first chart is drawn (the page sets window.__ferriteChartDrawnMs)
// and reads the page's load timeline (marks `ferrite:open`, `ferrite:frame`, `ferrite:parsed`
// from editor-static/dashboard/dashboard.js). Also counts the chart points of the largest
// frame the page received, so the bench knows what was drawn.
//
// Usage: node tests/browser/dashboard-bench.mjs <dashboardUrl> <runs>
// Prints one JSON array, one object a run, all times in ms from navigation start:
// {html, dashboard.js, uPlot.js (responseEnd), scripts (DOMContentLoaded), open, frame,
// parsed, drawn, frameBytes, points}. Exit status 1 on failure.

import { launch } from "./support.mjs";

const TIMEOUT_MS = 60_000;

async function run(browser, url) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    let largest = "";
    page.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => {
        if (typeof payload === "string" && payload.length > largest.length) largest = payload;
    }));
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => typeof window.__ferriteChartDrawnMs === "number");
    const t = await page.evaluate(() => {
        const drawn = window.__ferriteChartDrawnMs;
        // The marks of the frame that brought the chart: the last ones before it was drawn.
        const last = (name) => {
            const marks = performance.getEntriesByName(name).filter((m) => m.startTime <= drawn);
            return marks.length ? marks[marks.length - 1].startTime : null;
        };
        const nav = performance.getEntriesByType("navigation")[0];
        const resource = (file) => {
            const r = performance.getEntriesByType("resource").find((e) => e.name.endsWith(file));
            return r ? r.responseEnd : null;
        };
        return {
            html: nav.responseEnd,
            "dashboard.js": resource("dashboard.js"),
            "uPlot.js": resource("uPlot.iife.min.js"),
            scripts: nav.domContentLoadedEventEnd,
            open: last("ferrite:open"),
            frame: last("ferrite:frame"),
            parsed: last("ferrite:parsed"),
            drawn,
        };
    });
    let points = 0;
    try {
        for (const item of JSON.parse(largest).items || []) {
            // Each series is columns (nodes/src/dashboard/ui_chart.rs): one y per point.
            for (const s of Object.values((item.state && item.state.series) || {})) points += (s.y || []).length;
        }
    } catch (_) {
        // Not a layout frame: no points to count.
    }
    await context.close();
    return { ...t, frameBytes: largest.length, points };
}

async function main() {
    const [url, runsArg] = process.argv.slice(2);
    const runs = Number(runsArg);
    if (!url || !(runs > 0)) {
        console.error("usage: node tests/browser/dashboard-bench.mjs <dashboardUrl> <runs>");
        return 2;
    }
    const browser = await launch(TIMEOUT_MS);
    if (!browser) return 1;
    try {
        const results = [];
        for (let i = 0; i < runs; i++) results.push(await run(browser, url));
        console.log(JSON.stringify(results));
        return 0;
    } catch (err) {
        console.error(`dashboard bench failed: ${err.stack || err}`);
        return 1;
    } finally {
        await browser.close();
    }
}

process.exit(await main());

// Drives the README's PLC demo dashboard (flows/plc-demo.json) in Debian's headless Chromium,
// after tests/spec/admin/demo_browser_spec.rs restarted Ferrite: the temperature chart must
// hold every point recorded before the restart (read through the page's read-only hook
// window.__ferriteDashboard.chartPoints), the gauge and the pump state must show; screenshot;
// then press the button that flips the pump ("Start pump" when it shows "stopped", else
// "Stop pump"), wait until the page shows the new state and the chart has live points
// after the restart too, and screenshot again.
//
// Usage: node tests/browser/demo.mjs <dashboardUrl> <screenshotDir> <chartId> <restartMs> <ts,ts,...>
// <ts,...> are the epoch ms of the chart's points recorded before <restartMs>. Writes
// <screenshotDir>/demo-backfilled.png and demo-button.png. Prints `back-filled <n> points`
// and `pump <before> -> <after>`; the spec checks the register itself. Exit status 0 when
// every step passed, 1 otherwise (the failed step on stderr), 2 for bad usage.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { drive, listen, stepper } from "./support.mjs";

const STEP_TIMEOUT_MS = 20_000;

const step = stepper(STEP_TIMEOUT_MS);

async function run(browser, { url, dir, chartId, restartMs, recorded }, complaints) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    listen(page, complaints);

    await step("open the dashboard until the chart is drawn", async () => {
        await page.goto(url, { waitUntil: "domcontentloaded" });
        await page.locator(".chart .uplot canvas").first().waitFor();
    });
    await step("the chart holds every point recorded before the restart", async () => {
        // Points older than the restart cannot have come live from this run: they are
        // the history the page was given when it opened.
        const held = await page.evaluate(({ id, before }) => {
            const series = window.__ferriteDashboard.chartPoints(id);
            if (!series) return null;
            return Object.values(series).flat().map(([x]) => x).filter((x) => x < before);
        }, { id: chartId, before: restartMs });
        if (!held) throw new Error(`the page has no chart ${chartId}`);
        const missing = recorded.filter((ts) => !held.includes(ts));
        if (missing.length > 0) {
            throw new Error(`${missing.length} of ${recorded.length} points recorded before the restart are missing (${missing.slice(0, 5).join(", ")}); the page holds ${held.length} older points`);
        }
        console.log(`back-filled ${held.length} points`);
    });
    await step("the gauge shows the pressure and the text the pump state", async () => {
        await page.waitForFunction(() => {
            const v = document.querySelector(".gauge svg text.value");
            return v && /\d/.test(v.textContent);
        });
        await page.locator(".text .value", { hasText: /^(stopped|running)$/ }).waitFor();
    });
    await step("screenshot the back-filled dashboard", async () => {
        await page.screenshot({ path: join(dir, "demo-backfilled.png"), fullPage: true });
    });
    let before;
    let after;
    await step("press the button that flips the pump", async () => {
        before = (await page.locator(".text .value").textContent()).trim();
        const [button, expected] = before === "stopped" ? ["Start pump", "running"] : ["Stop pump", "stopped"];
        after = expected;
        await page.getByRole("button", { name: button }).click();
        console.log(`pressed ${button}`);
    });
    await step("the page shows the pump's new state, read back from the PLC", async () => {
        await page.locator(".text .value", { hasText: new RegExp(`^${after}$`) }).waitFor();
        console.log(`pump ${before} -> ${after}`);
    });
    await step("the chart goes on with live points after the restart", async () => {
        // The line must span the restart: history before it, live points after it.
        await page.waitForFunction(({ id, after }) => {
            const series = window.__ferriteDashboard.chartPoints(id) || {};
            return Object.values(series).flat().some(([x]) => x > after);
        }, { id: chartId, after: restartMs });
    });
    await step("screenshot the dashboard after the press", async () => {
        await page.screenshot({ path: join(dir, "demo-button.png"), fullPage: true });
    });
    await context.close();
}

async function main() {
    const [url, dir, chartId, restart, list] = process.argv.slice(2);
    const restartMs = Number(restart);
    const recorded = (list || "").split(",").filter(Boolean).map(Number);
    if (!url || !dir || !chartId || !Number.isFinite(restartMs) || recorded.length === 0 || recorded.some((t) => !Number.isFinite(t))) {
        console.error("usage: node tests/browser/demo.mjs <dashboardUrl> <screenshotDir> <chartId> <restartMs> <ts,ts,...>");
        return 2;
    }
    mkdirSync(dir, { recursive: true });
    return drive(STEP_TIMEOUT_MS, (browser, complaints) =>
        run(browser, { url, dir, chartId, restartMs, recorded }, complaints));
}

process.exit(await main());

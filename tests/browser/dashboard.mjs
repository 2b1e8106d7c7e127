// Drives Ferrite's dashboard page (/dashboard) in Debian's headless Chromium: load it, wait
// until the first chart is drawn and report how long that took (the page sets
// window.__ferriteChartDrawnMs), check the gauge, legend, text, table and slider, that a
// hidden widget is not drawn, a disabled button cannot be pressed and the table pages its
// rows, screenshot it, turn the switch "Pump" off, press the button "Press" and wait for the test's answer
// (a new chart series "setpoint" and a toast "Pressed"), open the second page from its tab;
// then load it again in a phone-sized viewport, check that the groups stack in one column,
// and screenshot that.
//
// Usage: node tests/browser/dashboard.mjs <dashboardUrl> <screenshotDir>
// Writes <screenshotDir>/dashboard.png, dashboard-answered.png and dashboard-phone.png. Prints
// `chart drawn in <ms> ms` (from navigation start), `chart rendered in <ms> ms` (from the
// arrival of the chart's frame) and `button pressed`; tests/spec/admin/dashboard_browser_spec.rs
// checks the numbers and what the flow received. Exit status 0 when every step passed,
// 1 otherwise (the failed step on stderr), 2 for bad usage.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { drive, listen, stepper } from "./support.mjs";

const STEP_TIMEOUT_MS = 30_000;

const step = stepper(STEP_TIMEOUT_MS);

async function open(browser, url, options, complaints) {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    listen(page, complaints);
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => typeof window.__ferriteChartDrawnMs === "number");
    return page;
}

async function desktop(browser, url, dir, complaints) {
    let page;
    await step("load the dashboard until the chart is drawn", async () => {
        page = await open(browser, url, { viewport: { width: 1280, height: 800 } }, complaints);
        // From navigation start (everything: page, scripts, socket, server, drawing), and
        // from the arrival of the frame that brought the chart (the page's own work: parsing
        // the 100,000 points, building the typed arrays, drawing).
        const t = await page.evaluate(() => {
            const drawn = window.__ferriteChartDrawnMs;
            const frames = performance.getEntriesByName("ferrite:frame").filter((m) => m.startTime <= drawn);
            const nav = performance.getEntriesByType("navigation")[0];
            const timeline = [`html ${Math.round(nav.responseEnd)}`];
            for (const r of performance.getEntriesByType("resource")) timeline.push(`${r.name.split("/").pop()} ${Math.round(r.responseEnd)}`);
            timeline.push(`scripts ${Math.round(nav.domContentLoadedEventEnd)}`);
            for (const m of performance.getEntriesByType("mark")) timeline.push(`${m.name.replace("ferrite:", "")} ${Math.round(m.startTime)}`);
            timeline.push(`drawn ${Math.round(drawn)}`);
            return { drawn, rendered: drawn - frames[frames.length - 1].startTime, timeline: timeline.join(", ") };
        });
        console.log(`chart drawn in ${Math.round(t.drawn)} ms`);
        console.log(`chart rendered in ${Math.round(t.rendered)} ms`);
        console.log(`  timeline (ms): ${t.timeline}`);
    });
    await step("the chart shows its series in the legend", async () => {
        await page.locator(".chart .uplot canvas").first().waitFor();
        await page.locator(".chart .u-legend", { hasText: "temperature" }).waitFor();
    });
    await step("the gauge shows its value", async () => {
        await page.locator(".gauge svg text.value", { hasText: "42" }).waitFor();
    });
    await step("text, table, switch and slider show their states", async () => {
        await page.locator(".text .value", { hasText: "Running" }).waitFor();
        await page.locator(".table td", { hasText: "Door open" }).waitFor();
        await page.locator(".switch input:checked").waitFor();
        const speed = await page.locator(".slider input").inputValue();
        if (speed !== "35") throw new Error(`the slider shows ${speed}, not 35`);
    });
    await step("a hidden widget is not drawn and a disabled button cannot be pressed", async () => {
        if (await page.locator(".text .value", { hasText: "Hidden text" }).count() !== 0) throw new Error("the hidden text is shown");
        if (!(await page.getByRole("button", { name: "Locked" }).isDisabled())) throw new Error("the disabled button is enabled");
        await page.locator(".widget.disabled.locked-by-flow").waitFor();
    });
    await step("the table shows its rows in pages of maxrows", async () => {
        await page.locator(".table .pager", { hasText: "1 / 2" }).waitFor();
        if (await page.locator(".table td", { hasText: "Pump fault" }).count() !== 0) throw new Error("row 6 is on page 1");
        await page.getByRole("button", { name: "Next page" }).click();
        await page.locator(".table td", { hasText: "Pump fault" }).waitFor();
        await page.locator(".table td", { hasText: "Door open" }).waitFor({ state: "detached" });
        await page.getByRole("button", { name: "Previous page" }).click();
        await page.locator(".table td", { hasText: "Door open" }).waitFor();
    });
    await step("screenshot the dashboard", async () => {
        await page.screenshot({ path: join(dir, "dashboard.png"), fullPage: true });
    });
    await step("turn the switch off", async () => {
        await page.getByRole("switch", { name: "Pump" }).click();
        console.log("switch turned off");
    });
    await step("press the button", async () => {
        await page.getByRole("button", { name: "Press" }).click();
        console.log("button pressed");
    });
    await step("the flow's answer reaches the page: a new chart series and a toast", async () => {
        await page.locator(".chart .u-legend", { hasText: "setpoint" }).waitFor();
        await page.locator(".toast", { hasText: "Pressed" }).waitFor();
    });
    await step("screenshot the answered dashboard", async () => {
        await page.screenshot({ path: join(dir, "dashboard-answered.png"), fullPage: true });
    });
    await step("the Details tab shows the second page", async () => {
        await page.getByRole("link", { name: "Details" }).click();
        await page.locator(".text .value", { hasText: "Page two" }).waitFor();
        await page.locator(".chart").waitFor({ state: "detached" });
    });
    await page.context().close();
}

async function phone(browser, url, dir, complaints) {
    let page;
    await step("load the dashboard on a phone", async () => {
        page = await open(browser, url, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }, complaints);
    });
    await step("groups stack in one column as wide as the screen", async () => {
        const boxes = await page.locator(".group").evaluateAll((groups) => groups.map((g) => g.getBoundingClientRect().toJSON()));
        if (boxes.length < 2) throw new Error(`expected two groups, found ${boxes.length}`);
        for (const b of boxes) {
            if (b.width < 390 * 0.9) throw new Error(`a group is ${b.width} px wide on a 390 px screen`);
        }
        if (!(boxes[1].top >= boxes[0].bottom)) throw new Error("the groups are side by side");
        const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
        if (scroll > 390) throw new Error(`the page scrolls sideways (${scroll} px wide)`);
    });
    await step("screenshot the dashboard on a phone", async () => {
        await page.screenshot({ path: join(dir, "dashboard-phone.png"), fullPage: true });
    });
    await page.context().close();
}

async function main() {
    const [url, dir] = process.argv.slice(2);
    if (!url || !dir) {
        console.error("usage: node tests/browser/dashboard.mjs <dashboardUrl> <screenshotDir>");
        return 2;
    }
    mkdirSync(dir, { recursive: true });
    return drive(STEP_TIMEOUT_MS, async (browser, complaints) => {
        await desktop(browser, url, dir, complaints);
        await phone(browser, url, dir, complaints);
    });
}

process.exit(await main());

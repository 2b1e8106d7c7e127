// What the browser drivers share: Debian's headless Chromium, steps that each have a
// bounded time and say which one failed, and what a page complained about (script errors,
// console errors, failed requests), kept to explain a failure.

import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export class StepFailed extends Error {}

// A `step(name, action)` whose failure names the step and why, in one line.
export function stepper(timeoutMs) {
    return async function step(name, action) {
        const started = Date.now();
        try {
            await action();
        } catch (err) {
            const why = err && err.name === "TimeoutError"
                ? `timed out after ${timeoutMs / 1000} s`
                : String(err && err.message ? err.message : err).split("\n")[0];
            throw new StepFailed(`step "${name}" failed: ${why}`, { cause: err });
        }
        console.log(`ok   ${name} (${Date.now() - started} ms)`);
    };
}

// Chromium, or null after saying why it could not start.
export async function launch(timeoutMs) {
    try {
        return await chromium.launch({
            executablePath: CHROMIUM,
            headless: true,
            // The tests run as root, where Chromium refuses to start with its sandbox.
            args: ["--no-sandbox", "--disable-dev-shm-usage"],
            timeout: timeoutMs,
        });
    } catch (err) {
        console.error(`cannot start Chromium at ${CHROMIUM} (./scripts/test installs it): ${err.message}`);
        return null;
    }
}

// Collects into `complaints` what `page` complains about; `alsoLogged(text)` picks console
// lines other than errors that count too.
export function listen(page, complaints, alsoLogged = () => false) {
    page.on("pageerror", (err) => complaints.push(`page error: ${err.message}`));
    page.on("console", (m) => {
        if (m.type() === "error" || alsoLogged(m.text())) complaints.push(`console: ${m.text()}`);
    });
    page.on("response", (r) => {
        if (r.status() >= 400) complaints.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
}

// Launches Chromium, runs `body(browser, complaints)` and closes it: the exit status, 0
// when every step passed and (with `complaintsFail`) no page complained.
export async function drive(timeoutMs, body, { complaintsFail = true } = {}) {
    const browser = await launch(timeoutMs);
    if (!browser) return 1;
    const complaints = [];
    let status = 0;
    try {
        await body(browser, complaints);
    } catch (err) {
        status = 1;
        console.error(err instanceof StepFailed ? err.message : `unexpected failure: ${err.stack || err}`);
    }
    if (status !== 0 || (complaintsFail && complaints.length > 0)) {
        for (const line of complaints.slice(-30)) console.error(`  ${line}`);
        if (complaintsFail && complaints.length > 0) status = 1;
    }
    await browser.close();
    return status;
}

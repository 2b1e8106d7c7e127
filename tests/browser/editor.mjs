// Drives the Node-RED editor served at <baseUrl> in Debian's headless Chromium as a user
// would: load it, import a flow through the import dialog, deploy, press the inject
// node's button and see the message in the debug sidebar. Saves a screenshot either way.
//
// Usage: node tests/browser/editor.mjs <baseUrl> <screenshotPath> [type,type,...]
// Given a list of node types, it checks instead that the editor offers each with help text
// and an edit dialog that opens without a script error (Ferrite's own definitions in
// editor-static/nodes/; config types included).
// Exit status 0 when every step passed; otherwise 1 (2 for bad usage) with the step that
// failed on stderr. Works against any server speaking the editor's protocol: Ferrite, or
// a real Node-RED for comparison.

import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { StepFailed, launch, listen, stepper } from "./support.mjs";

// Every wait is bounded: a step that does not finish in this time fails the run.
const STEP_TIMEOUT_MS = 30_000;
const PAYLOAD = "hello ferrite";
// Fresh ids each run: importing ids the server already has opens the editor's conflict
// dialog instead, so a rerun against the same server would fail.
const RUN = randomBytes(4).toString("hex");
const INJECT_ID = `${RUN}0inject`;
const DEBUG_ID = `${RUN}0debug`;

// No `z`: the editor puts the nodes on the tab that is open, so the same flow imports
// into an empty workspace and into one that already has tabs.
const FLOW = [
    {
        id: INJECT_ID,
        type: "inject",
        name: "say hello",
        props: [{ p: "payload" }],
        repeat: "",
        crontab: "",
        once: false,
        onceDelay: 0.1,
        topic: "",
        payload: PAYLOAD,
        payloadType: "str",
        x: 160,
        y: 120,
        wires: [[DEBUG_ID]],
    },
    {
        id: DEBUG_ID,
        type: "debug",
        name: "show it",
        active: true,
        tosidebar: true,
        console: false,
        tostatus: false,
        complete: "payload",
        targetType: "msg",
        statusVal: "",
        statusType: "auto",
        x: 380,
        y: 120,
        wires: [],
    },
];

function usage() {
    console.error("usage: node tests/browser/editor.mjs <baseUrl> <screenshotPath> [type,type,...]");
    process.exit(2);
}

const step = stepper(STEP_TIMEOUT_MS);

async function main() {
    const [baseUrl, screenshot, typeList] = process.argv.slice(2);
    const types = (typeList || "").split(",").filter((t) => t);
    if (!baseUrl || !screenshot) usage();
    mkdirSync(dirname(screenshot), { recursive: true });

    const browser = await launch(STEP_TIMEOUT_MS);
    if (!browser) return 1;

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    // Kept to explain a failure: what the editor itself complained about.
    const complaints = [];
    // The editor logs a node definition's exceptions ("oneditprepare", "Definition
    // error") with console.log.
    listen(page, complaints, (text) => /^(oneditprepare|Definition error)/.test(text));

    let status = 0;
    try {
        await loadEditor(page, baseUrl);
        if (types.length > 0) {
            await checkTypes(page, types, complaints);
        } else {
            await injectAndDebug(page);
            console.log(`the debug sidebar shows "${PAYLOAD}"`);
        }
    } catch (err) {
        status = 1;
        console.error(err instanceof StepFailed ? err.message : `unexpected failure: ${err.stack || err}`);
        for (const line of complaints.slice(-30)) console.error(`  ${line}`);
    }
    try {
        await page.screenshot({ path: screenshot, fullPage: true, timeout: STEP_TIMEOUT_MS });
        console.log(`screenshot: ${screenshot}`);
    } catch (err) {
        console.error(`cannot save the screenshot ${screenshot}: ${err.message}`);
        status = 1;
    }
    await browser.close();
    return status;
}

async function loadEditor(page, baseUrl) {
    await step("load the editor", async () => {
        await page.goto(baseUrl, { waitUntil: "domcontentloaded" });
    });

    await step("wait until the editor is ready", async () => {
        // Node types registered, the palette drawn, a tab open and the spinner gone: the
        // editor has finished its load sequence (settings, nodes, flows).
        await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.getType
            && RED.nodes.getType("inject") && RED.nodes.getType("debug")
            && RED.workspaces && RED.workspaces.active());
        await page.locator("#red-ui-palette-container .red-ui-palette-node").first().waitFor();
        await page.locator("#red-ui-loading-progress").waitFor({ state: "hidden" });
        await page.locator("#red-ui-workspace-chart").waitFor();
    });
}

async function injectAndDebug(page) {

    await step("open the import dialog from the menu", async () => {
        await page.locator("#red-ui-header-button-sidemenu").click();
        await page.locator("#menu-item-import").click();
        await page.locator("#red-ui-clipboard-dialog-import-text").waitFor();
    });

    await step("paste the flow and import it", async () => {
        const text = page.locator("#red-ui-clipboard-dialog-import-text");
        await text.fill(JSON.stringify(FLOW));
        // The dialog validates the text on keyup or paste; `fill` sends neither.
        await text.press("End");
        const ok = page.locator("#red-ui-clipboard-dialog-ok");
        await page.waitForFunction(
            () => !document.getElementById("red-ui-clipboard-dialog-ok").classList.contains("ui-state-disabled"));
        await ok.click();
        await text.waitFor({ state: "hidden" });
    });

    await step("place the imported nodes on the workspace", async () => {
        // Imported nodes follow the mouse until a click drops them.
        const chart = page.locator("#red-ui-workspace-chart");
        const box = await chart.boundingBox();
        if (!box) throw new Error("the workspace is not shown");
        await page.mouse.move(box.x + 200, box.y + 150);
        await page.mouse.click(box.x + 200, box.y + 150);
        await page.waitForFunction(
            (ids) => ids.every((id) => RED.nodes.node(id)) && RED.view.state() === RED.state.DEFAULT,
            [INJECT_ID, DEBUG_ID]);
    });

    await step("deploy", async () => {
        await page.locator("#red-ui-header-button-deploy").click();
        await page.locator(".red-ui-notification", { hasText: "Successfully deployed" }).first().waitFor();
    });

    await step("press the inject button", async () => {
        // SVG node groups carry no id; the editor binds each node's data to its elements.
        const button = await page.waitForFunction((id) => {
            for (const g of document.querySelectorAll(".red-ui-flow-node-button")) {
                if (g.__data__ && g.__data__.id === id
                    && !g.classList.contains("red-ui-flow-node-button-disabled")
                    && !g.classList.contains("red-ui-flow-node-button-stopped")) {
                    return g.querySelector(".red-ui-flow-node-button-button");
                }
            }
            return null;
        }, INJECT_ID);
        await button.asElement().click();
    });

    await step("open the debug sidebar", async () => {
        // Node-RED 5 may already show it (its default layout does); the tab opens it.
        const content = page.locator(".red-ui-debug-content").filter({ visible: true }).first();
        if (!(await content.isVisible())) {
            await page.locator('button[data-tab-id="debug"]').click();
        }
        await content.waitFor();
    });

    await step(`see "${PAYLOAD}" in the debug sidebar`, async () => {
        await page.locator(".red-ui-debug-msg", { hasText: PAYLOAD })
            .filter({ visible: true }).first().waitFor();
    });
}

// Each type is registered with an edit form and help; a node of it opens its edit dialog
// without a script error (oneditprepare runs). The nodes are removed, never deployed.
async function checkTypes(page, types, complaints) {
    await step(`node types offered: ${types.join(", ")}`, async () => {
        const problems = await page.evaluate((types) => types.flatMap((type) => {
            const def = RED.nodes.getType(type);
            if (!def) return [`${type}: not registered`];
            const found = [];
            if (!document.querySelector(`script[data-template-name="${type}"]`)) found.push(`${type}: no edit form`);
            if (!(RED.nodes.getNodeHelp(type) || "").trim()) found.push(`${type}: no help text`);
            if (def.category !== "config"
                && !document.querySelector(`.red-ui-palette-node[data-palette-type="${type}"]`)) {
                found.push(`${type}: not in the palette`);
            }
            return found;
        }), types);
        if (problems.length > 0) throw new Error(problems.join("; "));
    });
    for (const type of types) {
        await step(`edit dialog of ${type}`, async () => {
            const before = complaints.length;
            const id = await page.evaluate((type) => {
                if (RED.nodes.getType(type).category === "config") {
                    // A new one, as the "Add new ..." entry of a node's config field opens.
                    RED.editor.editConfig("", type, "_ADD_");
                    return null;
                }
                const id = RED.nodes.id();
                RED.view.importNodes([{ id, type, z: RED.workspaces.active(), x: 600, y: 300, wires: [] }],
                    { generateIds: false, touchImport: true });
                RED.editor.edit(RED.nodes.node(id));
                return id;
            }, type);
            // The tray's form holds the template's inputs once oneditprepare has run.
            await page.locator(".red-ui-tray .red-ui-tray-body form").first().waitFor();
            await page.locator("#node-dialog-cancel, #node-config-dialog-cancel").first().click();
            await page.locator(".red-ui-tray").first().waitFor({ state: "detached" });
            if (id) {
                await page.evaluate((id) => {
                    RED.nodes.remove(id);
                    RED.view.redraw(true);
                }, id);
            }
            // Script errors only: a missing icon is not the dialog failing.
            const errors = complaints.slice(before)
                .filter((c) => /^(page error|console: (oneditprepare|Definition error))/.test(c));
            if (errors.length > 0) throw new Error(errors.join("; "));
        });
    }
}

process.exit(await main());

// Records real daemon output into test/fixtures/ for the unit and browser tests: a workspace
// task's whole event stream (plan on, so the plan is in it), the task as GET shows it, the
// status, and the review stream's first event after an entry was queued. Run by
// scripts/record-fixtures (needs the daemon binary and the small model).

import * as fs from "node:fs";
import * as path from "node:path";

import { queueAdd } from "../../src/core/cli";
import { DaemonClient } from "../../src/core/client";
import { Transport } from "../../src/core/http";
import { CLI_BIN, calcWorkspace, startDaemon } from "./daemon";

const out = path.resolve(process.argv[2] ?? "test/fixtures");
const daemon = await startDaemon();
try {
  const transport = new Transport({ kind: "unix", socketPath: daemon.socket }, daemon.token);
  const client = new DaemonClient(transport);
  const ws = calcWorkspace(path.join(daemon.dir, "work"));
  const id = await client.createTask({ task: "Fix add in calc.py: it must return the sum of a and b.", workspace: ws, file: "calc.py", max_iterations: 3 });
  const stream = await transport.send("GET", `/agent/tasks/${id}/events`, { headers: { Accept: "text/event-stream" } });
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "task-calc.sse"), stream.body);
  fs.writeFileSync(path.join(out, "task-calc.view.json"), `${JSON.stringify(await client.task(id), null, 2)}\n`);
  const status = await client.status();
  fs.writeFileSync(path.join(out, "status.json"), `${JSON.stringify({ ...status, listening: ["unix:/run/user/1000/edgecoder/edgecoderd.sock"], model_file: status.model_file && path.basename(status.model_file) }, null, 2)}\n`);
  await queueAdd({ path: CLI_BIN, env: daemon.env }, "Make add handle strings of digits too", ws, "calc.py");
  const reviews = await transport.send("GET", "/edgecoder/reviews", {});
  fs.writeFileSync(path.join(out, "reviews.json"), `${reviews.body.trim()}\n`);
  console.log(`recorded task ${id} (${stream.body.split("\n\n").length - 1} events) into ${out}`);
} finally {
  await daemon.stop();
}

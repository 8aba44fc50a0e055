// A real AG-UI client (@ag-ui/client's HttpAgent) reading a newsroom run.
// Usage: node agui-client.mjs URL AUTH TASK APPROVAL [DECIDER_AUTH]
// With DECIDER_AUTH, a run that ends with an approval interrupt is resumed
// with that key's "approve" (a second AG-UI run answering the interrupt).
// It prints one JSON document with the events and results it saw.
import { HttpAgent } from '@ag-ui/client';

const [url, auth, task, approval, deciderAuth] = process.argv.slice(2);
const out = { runs: [] };

async function runOnce(agent, params) {
  const seen = { types: [], text: {}, state: null, finished: null, error: null };
  try {
    const res = await agent.runAgent(params, {
      onEvent({ event }) {
        seen.types.push(event.type);
        // AGUI_ABORT=1: the front end stops the run once it has started.
        if (process.env.AGUI_ABORT === '1' && event.type === 'RUN_STARTED') setTimeout(() => agent.abortRun(), 50);
        if (event.type === 'TEXT_MESSAGE_CONTENT') seen.text[event.messageId] = (seen.text[event.messageId] ?? '') + event.delta;
        if (event.type === 'STATE_SNAPSHOT') seen.state = event.snapshot;
        if (event.type === 'RUN_FINISHED') seen.finished = { outcome: event.outcome ?? null, result: event.result ?? null };
        if (event.type === 'RUN_ERROR') seen.error = { message: event.message, code: event.code ?? null };
      },
    });
    seen.newMessages = res.newMessages.length;
  } catch (e) {
    seen.thrown = String(e && e.message ? e.message : e);
  }
  out.runs.push(seen);
  return seen;
}

const headers = auth ? { Authorization: auth } : {};
const agent = new HttpAgent({ url, headers, initialMessages: [{ id: 'u1', role: 'user', content: task }] });
const forwardedProps = approval ? { approval } : {};
const first = await runOnce(agent, { forwardedProps });
const intr = first.finished?.outcome?.type === 'interrupt' ? first.finished.outcome.interrupts[0] : null;
if (intr && deciderAuth) {
  const decider = new HttpAgent({ url, headers: { Authorization: deciderAuth }, initialMessages: agent.messages });
  await runOnce(decider, {
    forwardedProps: { run_id: intr.metadata.newsroom_run_id },
    resume: [{ interruptId: intr.id, status: 'resolved', payload: { decision: 'approve' } }],
  });
}
process.stdout.write(JSON.stringify(out) + '\n');

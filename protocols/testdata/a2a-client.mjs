// A real A2A client (@a2a-js/sdk, through its v0.3 compatibility transport,
// since newsroom's card speaks A2A 0.3) delegating a story to newsroom.
// Usage: node a2a-client.mjs BASE_URL AUTH TASK APPROVAL [DECIDER_AUTH]
// It prints one JSON document with what it saw.
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';

const [base, auth, task, approval, deciderAuth] = process.argv.slice(2);
const out = {};

function clientFor(key) {
  const fetchImpl = (url, init = {}) => {
    const headers = new Headers(init.headers ?? {});
    if (key) headers.set('Authorization', key);
    return fetch(url, { ...init, headers });
  };
  const factory = new ClientFactory({
    transports: [new JsonRpcTransportFactory({ fetchImpl, legacyCompat: { enabled: true } })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl, legacyCompat: { enabled: true } }),
  });
  return factory.createFromUrl(base);
}

function message(text, meta, taskId = '') {
  return {
    messageId: crypto.randomUUID(), contextId: '', taskId, role: 1,
    parts: [{ content: { $case: 'text', value: text } }], metadata: meta, extensions: [], referenceTaskIds: [],
  };
}

function articleOf(t) {
  for (const a of t?.artifacts ?? []) for (const p of a.parts ?? []) if (p.content?.$case === 'text') return p.content.value;
  return '';
}

function err(e) {
  return { message: String(e?.message ?? e), code: e?.code ?? e?.cause?.code ?? null, name: e?.name ?? null, data: JSON.stringify(e?.data ?? e?.cause?.data ?? null) };
}

try {
  const client = await clientFor(auth);
  const card = await client.getAgentCard();
  out.skills = (card.skills ?? []).map((s) => s.id);
  const meta = approval ? { approval } : undefined;
  const res = await client.sendMessage({ tenant: '', message: message(task, meta), configuration: undefined, metadata: undefined });
  // The client returns the task itself (a v1.0 Task) for a task result.
  const t = res?.payload?.$case === 'task' ? res.payload.value : (res?.id ? res : null);
  out.taskId = t?.id ?? null;
  out.state = t?.status?.state ?? null;
  out.article = articleOf(t);
  out.streamStates = [];
  out.streamArtifact = false;
  for await (const ev of client.sendMessageStream({ tenant: '', message: message(task, meta), configuration: undefined, metadata: undefined })) {
    if (ev.payload?.$case === 'statusUpdate') out.streamStates.push(ev.payload.value.status?.state);
    if (ev.payload?.$case === 'artifactUpdate') out.streamArtifact = true;
  }
  if (deciderAuth && t) {
    const decider = await clientFor(deciderAuth);
    try {
      await decider.sendMessage({ tenant: '', message: message('approve', undefined, t.id), configuration: undefined, metadata: undefined });
      const after = await decider.getTask({ tenant: '', id: t.id });
      out.afterDecision = { state: after.status?.state ?? null, article: articleOf(after) };
    } catch (e) {
      out.decisionError = err(e);
    }
  }
  try {
    await client.sendMessage({ tenant: '', message: message('   ', undefined), configuration: undefined, metadata: undefined });
    out.badInput = 'accepted';
  } catch (e) {
    out.badInput = err(e);
  }
} catch (e) {
  out.error = err(e);
}
process.stdout.write(JSON.stringify(out) + '\n');

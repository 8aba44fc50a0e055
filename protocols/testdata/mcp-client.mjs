// A real MCP client (the official TypeScript SDK) commissioning a story from
// newsroom, over stdio (it launches `newsroom mcp`) or streamable HTTP.
// Usage: node mcp-client.mjs stdio|http TARGET AUTH TASK APPROVAL
// TARGET is the newsroom binary's path and its args as JSON (stdio) or the
// /mcp URL (http). It prints one JSON document with what it saw.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [mode, target, auth, task, approval] = process.argv.slice(2);
const out = { progress: [] };
let transport;
if (mode === 'stdio') {
  const [command, ...args] = JSON.parse(target);
  transport = new StdioClientTransport({ command, args, env: { ...process.env }, stderr: 'pipe' });
  transport.stderr?.on('data', (d) => { out.stderr = ((out.stderr ?? '') + d).slice(-4000); });
} else {
  const headers = auth ? { Authorization: auth } : {};
  transport = new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
}
const client = new Client({ name: 'ts-sdk-test', version: '1.0.0' });
try {
  await client.connect(transport);
  out.protocolVersion = transport.protocolVersion ?? null;
  out.server = client.getServerVersion();
  const tools = await client.listTools();
  out.tools = tools.tools.map((t) => ({ name: t.name, readOnly: t.annotations?.readOnlyHint ?? null, hasOutputSchema: !!t.outputSchema }));
  const args = { task };
  if (approval) args.approval = approval;
  const res = await client.callTool({ name: 'write_article', arguments: args }, undefined, {
    onprogress: (p) => out.progress.push(p.message),
    timeout: 120000,
  });
  out.isError = !!res.isError;
  out.text = (res.content ?? []).map((c) => c.text ?? '').join('');
  out.result = res.structuredContent ?? null;
  if (out.result && out.result.run_id) {
    const again = await client.callTool({ name: 'get_run', arguments: { run_id: out.result.run_id } });
    out.getRunStatus = again.structuredContent?.status ?? null;
  }
  const bad = await client.callTool({ name: 'get_run', arguments: {} }).catch((e) => ({ thrown: String(e) }));
  out.badInput = bad.thrown ?? (bad.isError ? (bad.content ?? []).map((c) => c.text ?? '').join('') : 'accepted');
} catch (e) {
  out.error = String(e && e.message ? e.message : e);
  out.code = e && e.code !== undefined ? e.code : null;
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + '\n');

// A `node --test` reporter that prints nothing until the run ends, then one line per failed test (file, name,
// first line of the error). CI logs are often read from their tail; TAP puts a failure thousands of lines above the
// totals, so this summary is what makes a red run readable there. Used beside tap/spec by scripts/run-tests.mjs.
export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    // A suite fails because a child failed; the child's own line says why, so skip the echo.
    if (error?.failureType === 'subtestsFailed') continue;
    const cause = error?.cause ?? error;
    const message = String(cause?.message ?? cause ?? '').split('\n')[0].slice(0, 300);
    failed.push(`not ok: ${file ?? '?'} :: ${name}${message ? ` :: ${message}` : ''}`);
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test(s):\n`;
  for (const line of failed) yield `# ${line}\n`;
}

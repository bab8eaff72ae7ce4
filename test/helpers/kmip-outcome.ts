// What a KMIP call came to, as the integration tests compare it: 'success' or the Result Reason code the server
// answered (src/kmip/errors.ts), so a refusal reads `assert.equal(await codeOf(c.get(uid)), 'PERMISSION_DENIED')`.
import { KmipClient } from '../../src/client/client.js';
import { KmipResultError } from '../../src/kmip/errors.js';

/** 'success', or the KMIP result code of the failure; any other error (a dropped connection) is rethrown. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'success';
  } catch (e) {
    if (e instanceof KmipResultError) return e.code;
    throw e;
  }
}

/** Like {@link codeOf}, but a connection the server closed is an outcome too (`error: <message>`), not a throw. */
export async function outcomeOf(p: Promise<unknown>): Promise<string> {
  try {
    return await codeOf(p);
  } catch (e) {
    return e instanceof Error ? `error: ${e.message}` : 'error';
  }
}

/** True when the connection still serves a request (an RNG Retrieve: no object, no policy needed). */
export async function served(c: KmipClient): Promise<boolean> {
  return (await outcomeOf(c.rngRetrieve(8))) === 'success';
}

/** A client of `opts` that the server serves, or undefined when it refuses it (nothing is left open then). */
export async function admitted(opts: Parameters<typeof KmipClient.connect>[0]): Promise<KmipClient | undefined> {
  let c: KmipClient;
  try {
    c = await KmipClient.connect(opts);
  } catch {
    return undefined;
  }
  if (await served(c)) return c;
  await c.close().catch(() => undefined);
  return undefined;
}

/** Connecting fails, or the first request on the connection does: the server refused the client. */
export async function refused(opts: Parameters<typeof KmipClient.connect>[0]): Promise<boolean> {
  const c = await admitted(opts);
  await c?.close().catch(() => undefined);
  return c === undefined;
}

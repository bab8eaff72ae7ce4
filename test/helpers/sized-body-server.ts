// The HTTP server a download limit is tested against (a CRL's maxCrlBytes, an OCSP answer's
// maxOcspResponseBytes: issue 18 item 4): it answers a body of exactly the size asked, announced or not.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SizedBodyServer {
  /** http://127.0.0.1:<port> */
  readonly base: string;
  close(): Promise<void>;
}

/**
 * /len/N: N bytes with a Content-Length; /chunked/N: N bytes in 512-byte chunks, no length announced. `route` is
 * asked first about every request, before its body is read, and returns true when it answered it.
 */
export async function startSizedBodyServer(route: (kind: string | undefined, req: IncomingMessage, res: ServerResponse) => boolean = () => false): Promise<SizedBodyServer> {
  const http = createServer((req, res) => {
    const [, kind, n] = (req.url ?? '').split('/');
    if (route(kind, req, res)) return;
    req.resume();
    const body = Buffer.alloc(Number(n), 0x41);
    if (kind === 'len') {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    res.writeHead(200);
    for (let i = 0; i < body.length; i += 512) res.write(body.subarray(i, i + 512));
    res.end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${String((http.address() as AddressInfo).port)}`,
    close: () => new Promise((r) => { http.close(() => { r(); }); }),
  };
}

/**
 * Anonymous TCP peers for the connection-flood tests (issue 15 items 1 and 7): sockets that connect and close
 * without a TLS handshake, and sockets that connect and then say nothing. Loopback addresses other than 127.0.0.1
 * (all of 127.0.0.0/8 is loopback on Linux) stand for other remote addresses in the per-address tests.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Connects, then half-closes at once (FIN) without a byte of TLS, as the review's flood did. Resolves once the FIN is sent (or the connection failed). */
export function connectAndClose(port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.on('error', () => { resolve(); });
    s.once('connect', () => {
      s.end(() => { resolve(); });
      // Release the descriptor soon; the kernel keeps the connection (FIN_WAIT2) for as long as the server does.
      setTimeout(() => { s.destroy(); }, 2_000).unref();
    });
  });
}

/** `n` connect-and-close calls in batches of `batch`, `gapMs` apart (a burst of 1,100 in ~1 s: batch 100, gap 90). */
export async function connectAndCloseBurst(port: number, n: number, batch = 100, gapMs = 90): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i += batch) {
    for (let j = i; j < Math.min(n, i + batch); j++) all.push(connectAndClose(port));
    await sleep(gapMs);
  }
  await Promise.all(all);
}

export interface IdleSocket {
  readonly socket: net.Socket;
  /** Resolves with the time (Date.now()) the server closed it. */
  readonly closed: Promise<number>;
  isClosed(): boolean;
  destroy(): void;
}

/** A TCP connection that never starts its TLS handshake, from `localAddress` (default 127.0.0.1). */
export function idleSocket(port: number, localAddress = '127.0.0.1'): Promise<IdleSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let closedFlag = false;
    const closed = new Promise<number>((r) => { socket.once('close', () => { closedFlag = true; r(Date.now()); }); });
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      resolve({ socket, closed, isClosed: () => closedFlag, destroy: () => { socket.destroy(); } });
    });
    socket.once('error', reject);
  });
}

/** Polls `cond` every 10 ms; fails after `ms` (a bound on a hang, not a timing check). */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

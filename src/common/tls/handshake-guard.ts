/**
 * The pre-handshake budget of a TLS listener (issue 15 item 1 and item 7): both the KMIP listener
 * (src/server/listener.ts) and the admin API's HTTPS server (src/cmk/api/server.ts) attach one.
 *
 * A TCP peer needs no certificate to open a socket, so until its TLS handshake completes a connection
 * is anonymous and must not be able to take capacity that authenticated clients need. The review of
 * issue 15 locked out the KMIP port with 1,100 connect-and-close calls (each kept its slot for the
 * handshake timeout) and the admin API with 260 idle sockets. This guard bounds what anonymous
 * connections can hold:
 *
 * - At most `maxHandshaking` connections may be in the handshake at once (per listener and process).
 *   When a new connection arrives at the cap, the OLDEST pending handshake is closed to make room,
 *   rather than the newcomer being refused: a real client completes its handshake in milliseconds,
 *   so an attacker who wants to push it out must open `maxHandshaking` connections within that
 *   time, instead of merely keeping `maxHandshaking` idle sockets open for the handshake timeout.
 * - At most `maxHandshakingPerAddress` of them may come from one remote IP address; the oldest of
 *   that address's pending handshakes is closed first. One address cannot take the whole budget,
 *   and a real client behind the same address (NAT, loopback) still gets in.
 * - The handshake timeout itself is the server's `handshakeTimeout` option (set by the caller).
 *
 * The guard does not refuse anything on its own account: the listener's `maxConnections` (Node's
 * net.Server accept check) still caps every connection, pre-handshake ones included.
 */
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';

export interface HandshakeBudget {
  /** Connections in the TLS handshake at once; past it the oldest is closed. */
  readonly maxHandshaking: number;
  /** Connections in the TLS handshake from one remote IP address; past it that address's oldest is closed. */
  readonly maxHandshakingPerAddress: number;
}

export interface HandshakeGuardStats {
  /** Pending handshakes closed because the listener's budget (maxHandshaking) was full. */
  evicted: number;
  /** Pending handshakes closed because their address had maxHandshakingPerAddress of them. */
  evictedPerAddress: number;
}

interface Pending {
  readonly raw: Socket;
  readonly address: string;
}

export type EvictionReason = 'budget' | 'per-address';

export class HandshakeGuard {
  readonly #budget: HandshakeBudget;
  /** Pending handshakes by remote address:port, oldest first (Map iteration is insertion order). */
  readonly #pending = new Map<string, Pending>();
  /** The same, grouped by remote address, oldest first. */
  readonly #byAddress = new Map<string, Set<string>>();
  readonly #onEvict: ((reason: EvictionReason, address: string) => void) | undefined;
  readonly stats: HandshakeGuardStats = { evicted: 0, evictedPerAddress: 0 };

  /**
   * Attaches to `server`: every TCP connection is admitted on 'connection' and leaves the budget on
   * 'secureConnection' or when it closes. Attach before any other 'secureConnection' listener that
   * may destroy the socket.
   */
  constructor(server: TlsServer, budget: HandshakeBudget, onEvict?: (reason: EvictionReason, address: string) => void) {
    this.#budget = budget;
    this.#onEvict = onEvict;
    server.on('connection', (raw: Socket) => { this.admit(raw); });
    server.on('secureConnection', (socket: TLSSocket) => { this.#remove(keyOf(socket)); });
  }

  /** Connections now in the TLS handshake. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Connections now in the TLS handshake from `address`. */
  pendingFrom(address: string): number {
    return this.#byAddress.get(address)?.size ?? 0;
  }

  /** Closes every pending handshake (listener shutdown). */
  closeAll(): void {
    for (const p of [...this.#pending.values()]) p.raw.destroy();
    this.#pending.clear();
    this.#byAddress.clear();
  }

  /** Counts a new TCP connection in; evicts the oldest pending handshake of its address or of the listener first. */
  admit(raw: Socket): void {
    if (raw.destroyed) return;
    const address = raw.remoteAddress ?? '';
    const key = keyOf(raw);
    const mine = this.#byAddress.get(address);
    if (mine !== undefined && mine.size >= this.#budget.maxHandshakingPerAddress) {
      this.#evictOldest(mine, 'per-address');
    }
    if (this.#pending.size >= this.#budget.maxHandshaking) {
      this.#evictOldest(this.#pending.keys(), 'budget');
    }
    this.#pending.set(key, { raw, address });
    let set = this.#byAddress.get(address);
    if (set === undefined) {
      set = new Set();
      this.#byAddress.set(address, set);
    }
    set.add(key);
    raw.once('close', () => {
      if (this.#pending.get(key)?.raw === raw) this.#remove(key);
    });
  }

  #evictOldest(keys: Iterable<string>, reason: EvictionReason): void {
    for (const k of keys) {
      const p = this.#pending.get(k);
      this.#remove(k);
      if (p === undefined) continue;
      if (reason === 'budget') this.stats.evicted++;
      else this.stats.evictedPerAddress++;
      this.#onEvict?.(reason, p.address);
      // Destroying the TCP socket also destroys the TLSSocket wrapped around it (node:tls).
      p.raw.destroy();
      return;
    }
  }

  #remove(key: string): void {
    const p = this.#pending.get(key);
    if (p === undefined) return;
    this.#pending.delete(key);
    const set = this.#byAddress.get(p.address);
    set?.delete(key);
    if (set?.size === 0) this.#byAddress.delete(p.address);
  }
}

/** remote address:port — unique among the open connections of one listener. */
function keyOf(s: Socket): string {
  return `${s.remoteAddress ?? ''}:${String(s.remotePort)}`;
}

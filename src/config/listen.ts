/** Listen addresses of the config file and the command line: HOST:PORT or [IPv6]:PORT. */
import { isIP } from 'node:net';
import { ConfigError } from '../common/config-error.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_KMIP_LISTEN = '127.0.0.1:5696';

/** Parses HOST:PORT, [IPv6]:PORT. Port 0 asks the OS for a free port. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`listen address must be HOST:PORT (or [IPv6]:PORT), got ${JSON.stringify(text)}`);
  }
  if (m[1] !== undefined && isIP(host) !== 6) throw new ConfigError(`not an IPv6 address: ${host}`);
  return { host, port };
}

export function formatListen(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${String(a.port)}` : `${a.host}:${String(a.port)}`;
}

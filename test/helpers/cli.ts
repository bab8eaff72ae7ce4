/**
 * Runs the real `openkcm` CLI in a child process, asynchronously (a server or operator API under test may run in
 * the calling process's event loop), and collects its exit code and output.
 */
import { spawn } from 'node:child_process';
import { CLI_MAIN } from './server.js';

export interface CliResult { code: number | null; stdout: string; stderr: string }

export interface CliOptions {
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the CLI's stdin, which is then closed (empty by default). */
  readonly stdin?: string | Buffer;
}

export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, stdout, stderr }); });
    // A CLI that exits before reading its stdin must not fail the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}

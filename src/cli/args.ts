/**
 * What every `openkcm` command does with its arguments before its own work: parse, answer
 * --help, and turn a usage mistake into exit code 2 with the usage text (docs/cli.md).
 */
export class UsageError extends Error {}

/**
 * Parses `argv` with `parse`; returns the options, or the exit code when the command is done
 * (0 after --help, 2 after a usage error, which is printed with the usage text).
 */
export function parseCommandLine<P extends { help: boolean }>(
  command: string, usage: string, argv: string[], parse: (argv: string[]) => P,
): P | number {
  let p: P;
  try {
    p = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`openkcm ${command}: ${e.message}\n\n${usage}\n`);
    return 2;
  }
  if (p.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  return p;
}

/** The --data-dir both init and serve require, or a usage error. */
export function requireDataDir(command: string, usage: string, dataDir: string | undefined): string | number {
  if (dataDir !== undefined) return dataDir;
  process.stderr.write(`openkcm ${command}: --data-dir is required\n\n${usage}\n`);
  return 2;
}

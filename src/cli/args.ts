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

/** One command-line argument, as a command's option switch sees it (see {@link forEachArg}). */
export interface Arg {
  /** The argument as given, e.g. `--port=5696` or `verify`. */
  readonly arg: string;
  /** The option name without an inline value (`--port`), or the bare word itself. */
  readonly flag: string;
  /** The value written inline after `=` (`--port=5696`), if any. */
  readonly inline: string | undefined;
  /** The option's value: the inline one, else the next argument; a UsageError when it is missing or is an option. */
  readonly value: () => string;
  /** For options with several values (`--filter A B C`): the next argument when it is a bare word, else undefined. */
  readonly nextBare: () => string | undefined;
}

/**
 * Walks `argv` once, handing each argument to `onArg` (every command's option syntax: `--flag VALUE` or
 * `--flag=VALUE`, bare words for subcommands and positionals). `value()` and `nextBare()` consume the
 * arguments they return.
 */
export function forEachArg(argv: readonly string[], onArg: (a: Arg) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    onArg({
      arg, flag, inline,
      value: (): string => {
        if (inline !== undefined) return inline;
        const v = argv[++i];
        if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
        return v;
      },
      nextBare: (): string | undefined => {
        const v = argv[i + 1];
        if (inline !== undefined || v === undefined || v.startsWith('--')) return undefined;
        i++;
        return v;
      },
    });
  }
}

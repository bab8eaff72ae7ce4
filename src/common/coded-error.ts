/**
 * The shape every error catalog's class shares (STYLE.md rule 5: one catalog, stable codes): a string `code` that
 * callers branch on, never the message text. Each layer extends it with its own name and code union
 * (src/vault/errors.ts, src/native/errors.ts, ...). A leaf: the KMIP client package compiles it too
 * (packages/client/tsconfig.json, for NativeError).
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

// SoftHSM2 test fixture: a private SOFTHSM2_CONF and token directory per test process, tokens initialised with
// softhsm2-util, and L1 keys generated through pkcs11js as non-extractable token objects (issue 4).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { acquirePkcs11Module } from '../../src/keystore/pkcs11.js';

export const SOFTHSM_MODULE = process.env['OPENKCM_SOFTHSM_MODULE'] ?? '/usr/lib/softhsm/libsofthsm2.so';
export const SO_PIN = '87654321';
export const USER_PIN = '12345678';

export interface SoftHsm {
  readonly dir: string;
  readonly confPath: string;
  readonly modulePath: string;
  /** Removes the token directory; call after every plugin is closed. */
  cleanup(): void;
}

/**
 * Creates the private configuration and points process.env.SOFTHSM2_CONF at it. Must run before the module is
 * loaded in this process: SoftHSM reads the variable in C_Initialize, once.
 */
export function setupSoftHsm(): SoftHsm {
  const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  mkdirSync(tokenDir);
  const confPath = path.join(dir, 'softhsm2.conf');
  writeFileSync(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env['SOFTHSM2_CONF'] = confPath;
  return {
    dir,
    confPath,
    modulePath: SOFTHSM_MODULE,
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Initialises a fresh token in the first free slot. softhsm2-util runs as a child process; the tokens it writes
 * are visible to this process's SoftHSM instance only if the module is (re)loaded after, or on the next
 * C_GetSlotList, which SoftHSM answers by rescanning the token directory.
 */
export function initToken(hsm: SoftHsm, label: string, pin: string = USER_PIN): void {
  const result = spawnSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', SO_PIN, '--pin', pin],
    { env: { ...process.env, SOFTHSM2_CONF: hsm.confPath }, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new Error(`softhsm2-util --init-token failed (${String(result.status)}): ${result.stderr}`);
  }
}

function withUserSession<T>(hsm: SoftHsm, tokenLabel: string, pin: string, body: (p: pkcs11js.PKCS11, session: Buffer) => T): T {
  const module = acquirePkcs11Module(hsm.modulePath);
  const p = module.pkcs11;
  try {
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === tokenLabel);
    if (slot === undefined) throw new Error(`no token ${tokenLabel}`);
    const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      try {
        p.C_Login(session, pkcs11js.CKU_USER, pin);
      } catch (err) {
        if (!(err instanceof pkcs11js.Pkcs11Error && err.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw err;
      }
      return body(p, session);
    } finally {
      p.C_CloseSession(session);
    }
  } finally {
    module.release();
  }
}

/** Generates the L1 key: AES-256, token object, CKA_SENSITIVE true, CKA_EXTRACTABLE false. Returns its CKA_ID. */
export function generateL1Key(hsm: SoftHsm, tokenLabel: string, keyLabel: string, pin: string = USER_PIN): Buffer {
  const id = Buffer.from(keyLabel, 'utf8').subarray(0, 16);
  withUserSession(hsm, tokenLabel, pin, (p, session) => {
    p.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
      { type: pkcs11js.CKA_ID, value: id },
    ]);
  });
  return id;
}

function findKeys(p: pkcs11js.PKCS11, session: Buffer, keyLabel: string): Buffer[] {
  p.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
  ]);
  try {
    return p.C_FindObjects(session, 10);
  } finally {
    p.C_FindObjectsFinal(session);
  }
}

/** "Revoked at the source": C_DestroyObject on every key with the label. */
export function destroyL1Key(hsm: SoftHsm, tokenLabel: string, keyLabel: string, pin: string = USER_PIN): void {
  withUserSession(hsm, tokenLabel, pin, (p, session) => {
    for (const key of findKeys(p, session, keyLabel)) p.C_DestroyObject(session, key);
  });
}

/** Reads attributes of the L1 key; used to prove it is non-extractable and its value is refused. */
export function readKeyAttributes(
  hsm: SoftHsm,
  tokenLabel: string,
  keyLabel: string,
  types: readonly number[],
  pin: string = USER_PIN,
): pkcs11js.Attribute[] {
  return withUserSession(hsm, tokenLabel, pin, (p, session) => {
    const key = findKeys(p, session, keyLabel)[0];
    if (key === undefined) throw new Error(`no key ${keyLabel}`);
    return p.C_GetAttributeValue(session, key, types.map((type) => ({ type })));
  });
}

/** "Disabled at the source": clears CKA_ENCRYPT and CKA_DECRYPT on the key (the key itself stays). */
export function setL1KeyEnabled(hsm: SoftHsm, tokenLabel: string, keyLabel: string, enabled: boolean, pin: string = USER_PIN): void {
  withUserSession(hsm, tokenLabel, pin, (p, session) => {
    for (const key of findKeys(p, session, keyLabel)) {
      p.C_SetAttributeValue(session, key, [
        { type: pkcs11js.CKA_ENCRYPT, value: enabled },
        { type: pkcs11js.CKA_DECRYPT, value: enabled },
      ]);
    }
  });
}

/**
 * Runs `count` C_EncryptAsync calls (libuv worker threads, so truly concurrent inside SoftHSM) on separate
 * sessions against the L1 key, to exercise the module's locking (CKF_OS_LOCKING_OK).
 */
export async function encryptConcurrently(hsm: SoftHsm, tokenLabel: string, keyLabel: string, count: number): Promise<number> {
  const module = acquirePkcs11Module(hsm.modulePath);
  const p = module.pkcs11;
  const sessions: Buffer[] = [];
  try {
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === tokenLabel);
    if (slot === undefined) throw new Error(`no token ${tokenLabel}`);
    for (let i = 0; i < count; i += 1) sessions.push(p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    const first = sessions[0];
    if (first === undefined) return 0;
    try {
      p.C_Login(first, pkcs11js.CKU_USER, USER_PIN);
    } catch (err) {
      if (!(err instanceof pkcs11js.Pkcs11Error && err.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw err;
    }
    const key = findKeys(p, first, keyLabel)[0];
    if (key === undefined) throw new Error(`no key ${keyLabel}`);
    const outputs = await Promise.all(
      sessions.map(async (session) => {
        const parameter: pkcs11js.GcmParams = { type: pkcs11js.CK_PARAMS_AES_GCM, iv: randomBytes(12), ivBits: 96, tagBits: 128 };
        p.C_EncryptInit(session, { mechanism: pkcs11js.CKM_AES_GCM, parameter }, key);
        return p.C_EncryptAsync(session, randomBytes(4096), Buffer.alloc(4096 + 16));
      }),
    );
    return outputs.filter((o) => o.length === 4096 + 16).length;
  } finally {
    for (const session of sessions) p.C_CloseSession(session);
    module.release();
  }
}

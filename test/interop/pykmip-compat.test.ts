/**
 * The client compatibility switches (issue 20 Deliver 4) driven by PyKMIP's real client (python3-pykmip 0.10,
 * ProxyKmipClient) at every version it speaks, 1.0 to 2.0 (test/interop/pykmip_compat_driver.py):
 *
 * - spec-strict defaults (tenant `pystrict`, no profile): PyKMIP's second unnamed Register is refused (it names every
 *   unnamed object "Symmetric Key" / "Secret Data"; KMIP 1.4 §3.2 unique names), and its get_attributes() with no
 *   names fails to decode the complete answer at 1.2, 1.3, 1.4 and 2.0;
 * - tenant `pyshared` with `compat.namePolicy.tenants.pyshared = "shared"` and its identity on the `pykmip` client
 *   profile: every Register succeeds, and get_attributes() decodes at every version.
 *
 * If python3-pykmip is missing the test FAILS with the package to install (no silent skip).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertPyKmipInstalled, driverStep as step, runStepDriver } from '../helpers/pykmip.js';
import type { DriverStep } from '../helpers/pykmip.js';
import { interopScript } from '../helpers/repo.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0'] as const;
/** Where PyKMIP 0.10 cannot decode a complete all-attributes answer (its attribute factory lacks one of them). */
const UNDECODABLE_WITHOUT_PROFILE = new Set(['1.2', '1.3', '1.4', '2.0']);
const RUN_TIMEOUT_MS = 60_000;

const DRIVER = interopScript('pykmip_compat_driver.py');


describe('PyKMIP client and the compatibility switches', () => {
  let srv: TestServer;
  before(async () => {
    assertPyKmipInstalled();
    srv = await startTestServer({
      tenants: ['pystrict', 'pyshared'],
      compat: { namePolicy: { default: 'unique', tenants: { pyshared: 'shared' } }, clientProfiles: { pyshared: 'pykmip' } },
    });
  });
  after(async () => { await srv.stop(); });

  for (const version of VERSIONS) {
    test(`KMIP ${version}: spec-strict by default; the switches make PyKMIP work`, async () => {
      const strict = await runStepDriver(DRIVER, srv, 'pystrict', version, [], RUN_TIMEOUT_MS);
      // Each version run registers into the same tenant: the first unnamed key of the first run takes the name.
      assert.equal(step(strict, 'register_key_2').ok, false, 'a second object named "Symmetric Key" is refused by default');
      assert.match(step(strict, 'register_key_2').error ?? '', /INVALID_FIELD|NON_UNIQUE_NAME_ATTRIBUTE/);
      assert.equal(step(strict, 'register_secret_2').ok, false, 'a second object named "Secret Data" is refused by default');
      const strictAttrs = step(strict, 'all_attrs');
      if (UNDECODABLE_WITHOUT_PROFILE.has(version)) {
        assert.equal(strictAttrs.ok, false, `PyKMIP decodes a complete ${version} answer: the profile may no longer be needed`);
      } else {
        assert.equal(strictAttrs.ok, true, strictAttrs.error);
      }

      const shared = await runStepDriver(DRIVER, srv, 'pyshared', version, [], RUN_TIMEOUT_MS);
      for (const s of ['register_key_1', 'register_key_2', 'register_secret_1', 'register_secret_2']) {
        assert.equal(step(shared, s).ok, true, `${s}: ${step(shared, s).error ?? ''}`);
      }
      const attrs = step(shared, 'all_attrs') as DriverStep & { names?: string[] };
      assert.equal(attrs.ok, true, attrs.error);
      for (const n of ['Unique Identifier', 'Object Type', 'Cryptographic Algorithm', 'Cryptographic Length', 'State']) {
        assert.ok(attrs.names?.includes(n), `${n} in ${JSON.stringify(attrs.names)}`);
      }
    });
  }
});

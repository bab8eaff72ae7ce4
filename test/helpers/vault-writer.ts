/**
 * Child process of test/integration/vault-crash.test.ts: writes to a vault in a loop until it
 * is SIGKILLed, and reports on stdout (a pipe: synchronous writes on Linux, so a line written is
 * a line the parent will read even after the kill):
 *
 *   I <uid> <sha256(material)>   intent, printed BEFORE put is called
 *   P <uid> <sha256(material)>   acknowledged: printed only AFTER put resolved (durable commit)
 *   U <uid> <version>            update acknowledged at that record version
 *   X <uid>                      delete intent, printed BEFORE delete is called
 *   D <uid>                      delete acknowledged
 *
 * Usage: node dist/test/helpers/vault-writer.js <dataDir> <keyFile>
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Tag } from '../../src/kmip/registry.generated.js';
import { enumeration, structure, text } from '@openkcm/ttlv';
import { DevKekProvider } from '../../src/vault/kek.js';
import { newUid } from '../../src/vault/uid.js';
import { Vault } from '../../src/vault/vault.js';

const [dataDir, keyFile] = process.argv.slice(2);
if (dataDir === undefined || keyFile === undefined) {
  process.stderr.write('usage: vault-writer <dataDir> <keyFile>\n');
  process.exit(2);
}

const out = (line: string): void => {
  process.stdout.write(line + '\n');
};

const vault = await Vault.open({ path: dataDir, kek: DevKekProvider.open(keyFile) });
out('READY');

const TENANTS = ['crash-a', 'crash-b'];
/** Acknowledged, not deleted: candidates for update/delete. */
const live: { tenant: string; uid: string }[] = [];

for (let round = 0; ; round++) {
  const pending: Promise<void>[] = [];
  // 1..8 puts per event turn, so kills also land inside multi-record group commits.
  const puts = 1 + randomInt(8);
  for (let i = 0; i < puts; i++) {
    const tenant = TENANTS[randomInt(TENANTS.length)] ?? 'crash-a';
    const uid = newUid();
    const material = randomBytes(32);
    const digest = createHash('sha256').update(material).digest('hex');
    out(`I ${uid} ${digest}`);
    pending.push(vault.put({
      tenant, uid, objectType: 2, state: 1,
      attributes: [
        { name: 'Name', value: structure(Tag.Name, [text(Tag.NameValue, `n-${round}-${i}`), enumeration(Tag.NameType, 1)]) },
        { name: 'Object Group', value: text(Tag.ObjectGroup, `g-${randomInt(5)}`) },
      ],
      material,
    }).then(() => {
      material.fill(0);
      out(`P ${uid} ${digest}`);
      live.push({ tenant, uid });
    }));
  }
  if (live.length > 2 && randomInt(10) < 2) {
    // Delete first (removed from `live` now), so no update below can target a deleted record.
    const [victim] = live.splice(randomInt(live.length), 1);
    if (victim !== undefined) {
      out(`X ${victim.uid}`);
      pending.push(vault.delete(victim.tenant, victim.uid).then(() => { out(`D ${victim.uid}`); }));
    }
  }
  if (live.length > 0 && randomInt(10) < 4) {
    const target = live[randomInt(live.length)];
    if (target !== undefined) {
      pending.push(vault.update(target.tenant, target.uid, (cur) => ({
        state: cur.state === 1 ? 2 : 3,
        attributes: [...cur.attributes.filter((a) => a.name !== 'Object Group'), { name: 'Object Group', value: text(Tag.ObjectGroup, `moved-${round}`) }],
      })).then((r) => { out(`U ${target.uid} ${r.version}`); }));
    }
  }
  await Promise.all(pending);
}

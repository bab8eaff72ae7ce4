/**
 * TtlvFramer: whatever way the TCP stream is cut, exactly the original messages come out.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlvFramer } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { bytes, structure } from '@openkcm/ttlv';
import { GET_REQUEST, GET_RESPONSE, KMIP_1_1_MESSAGES, assertTtlvError, hex } from '../helpers/ttlv-vectors.js';

/** Pushes each chunk in turn and collects every frame. */
function frameAll(chunks: readonly Uint8Array[], framer = new TtlvFramer()): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...framer.push(c));
  return out;
}

function assertFrames(actual: readonly Buffer[], expected: readonly Uint8Array[], context: string): void {
  assert.equal(actual.length, expected.length, `${context}: frame count`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(actual[i]!.equals(expected[i]!), `${context}: frame ${i} differs`);
  }
}

describe('TtlvFramer splits', () => {
  for (const { name, bytes: msg } of KMIP_1_1_MESSAGES) {
    test(`${name}: split in two at every offset`, () => {
      for (let i = 0; i <= msg.length; i++) {
        const framer = new TtlvFramer();
        assertFrames(frameAll([msg.subarray(0, i), msg.subarray(i)], framer), [msg], `split at ${i}`);
        assert.equal(framer.buffered, 0);
      }
    });

    test(`${name}: split in three at every pair of offsets`, () => {
      for (let i = 0; i <= msg.length; i++) {
        for (let j = i; j <= msg.length; j++) {
          const frames = frameAll([msg.subarray(0, i), msg.subarray(i, j), msg.subarray(j)]);
          if (frames.length !== 1 || !frames[0]!.equals(msg)) assert.fail(`split at ${i}, ${j}`);
        }
      }
    });

    test(`${name}: one byte at a time`, () => {
      const framer = new TtlvFramer();
      const frames: Buffer[] = [];
      for (let i = 0; i < msg.length; i++) {
        assert.equal(framer.buffered, i);
        frames.push(...framer.push(msg.subarray(i, i + 1)));
      }
      assertFrames(frames, [msg], 'byte by byte');
    });
  }

  test('two messages concatenated, split at every offset', () => {
    const pair = Buffer.concat([GET_REQUEST, GET_RESPONSE]);
    for (let i = 0; i <= pair.length; i++) {
      assertFrames(frameAll([pair.subarray(0, i), pair.subarray(i)]), [GET_REQUEST, GET_RESPONSE], `split at ${i}`);
    }
  });

  test('all messages in one chunk come out in order, as zero-copy views', () => {
    const all = Buffer.concat(KMIP_1_1_MESSAGES.map((m) => m.bytes));
    const frames = new TtlvFramer().push(all);
    assertFrames(
      frames,
      KMIP_1_1_MESSAGES.map((m) => m.bytes),
      'one chunk',
    );
    for (const f of frames) assert.equal(f.buffer, all.buffer);
  });

  test('an empty Structure (an 8-byte message) with its header split', () => {
    const empty = hex('42 00 78 01 00 00 00 00');
    for (let i = 0; i <= 8; i++) {
      assertFrames(frameAll([empty.subarray(0, i), empty.subarray(i), empty]), [empty, empty], `split at ${i}`);
    }
  });

  test('empty chunks are harmless', () => {
    assertFrames(frameAll([new Uint8Array(0), GET_REQUEST, new Uint8Array(0)]), [GET_REQUEST], 'empty chunks');
  });

  test('a 64 KiB message in 1-byte chunks is assembled into one buffer', () => {
    const big = encodeTtlv(structure(0x420078, [bytes(0x420043, new Uint8Array(65536).fill(7))]));
    const framer = new TtlvFramer();
    const frames: Buffer[] = [];
    for (let i = 0; i < big.length; i++) frames.push(...framer.push(big.subarray(i, i + 1)));
    assertFrames(frames, [big], '1-byte chunks');
  });

  test('frames assembled from several chunks do not alias the chunks', () => {
    const chunkA = Buffer.from(GET_REQUEST.subarray(0, 50));
    const chunkB = Buffer.from(GET_REQUEST.subarray(50));
    const [frame] = frameAll([chunkA, chunkB]);
    chunkA.fill(0);
    assert.ok(frame!.equals(GET_REQUEST));
  });
});

describe('TtlvFramer rejects', () => {
  test('a top-level item that is not a Structure: NOT_A_STRUCTURE', () => {
    assertTtlvError(() => new TtlvFramer().push(hex('42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 00')), 'NOT_A_STRUCTURE', 0);
  });
  test('a bad tag (e.g. HTTP on the KMIP port): BAD_TAG', () => {
    assertTtlvError(() => new TtlvFramer().push(Buffer.from('GET / HTTP/1.1\r\n')), 'BAD_TAG', 0);
  });
  test('a Structure length that is not a multiple of 8: BAD_LENGTH', () => {
    assertTtlvError(() => new TtlvFramer().push(hex('42 00 78 01 00 00 00 0C')), 'BAD_LENGTH', 0);
  });
  test('length 0xFFFFFFFF as soon as the header is complete, even when split', () => {
    const framer = new TtlvFramer();
    assert.equal(framer.push(GET_REQUEST).length, 1);
    assert.deepEqual(framer.push(hex('42 00 78 01 FF FF')), []);
    assertTtlvError(() => framer.push(hex('FF FF')), 'MESSAGE_TOO_LARGE', GET_REQUEST.length);
  });
  test('after an error the framer stays failed', () => {
    const framer = new TtlvFramer();
    const first = assertTtlvError(() => framer.push(hex('42 00 78 01 FF FF FF FF')), 'MESSAGE_TOO_LARGE', 0);
    let again: unknown;
    try {
      framer.push(GET_REQUEST);
    } catch (e) {
      again = e;
    }
    assert.equal(again, first);
  });
  test('messages before the bad one in the same chunk are lost with the connection, not emitted half-way', () => {
    const framer = new TtlvFramer();
    assertTtlvError(() => framer.push(Buffer.concat([GET_REQUEST, hex('43 00 00 01 00 00 00 00')])), 'BAD_TAG', GET_REQUEST.length);
  });
});

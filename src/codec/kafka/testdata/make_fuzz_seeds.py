#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/kafka_request_fuzz.cc.

Usage: make_fuzz_seeds.py OUTDIR   (normally tests/fuzz/corpus/kafka_request)

Seeds: captured client frames from this folder (mode 0), their record batches
(mode 1), a framed byte stream (mode 2) and hand-built flexible-version
request bodies written from Kafka's message definitions (mode 3). See the
selector byte layout at the top of kafka_request_fuzz.cc.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def i8(v): return struct.pack('>b', v)
def i16(v): return struct.pack('>h', v)
def i32(v): return struct.pack('>i', v)
def i64(v): return struct.pack('>q', v)


def uvar(v):
    out = b''
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7
    return out + bytes([v])


def cstr(s):  # compact string
    b = s.encode()
    return uvar(len(b) + 1) + b


def cnstr(s):  # compact nullable string
    return b'\x00' if s is None else cstr(s)


def cbytes(b):
    return uvar(len(b) + 1) + b


def carr(n):
    return uvar(n + 1)


TAGS = b'\x00'
UUID = bytes(range(16))

# (api index in SupportedApis(), version, body)
FLEX = {
    'produce_v9': (0, 9, cnstr(None) + i16(-1) + i32(30000) + carr(1) + cstr('t') + carr(1) +
                   i32(0) + cbytes(b'') + TAGS + TAGS + TAGS),
    'fetch_v12_cluster': (1, 12, i32(-1) + i32(500) + i32(1) + i32(1 << 20) + i8(0) + i32(0) +
                          i32(-1) + carr(1) + cstr('t') + carr(1) + i32(0) + i32(-1) + i64(0) +
                          i32(-1) + i64(-1) + i32(1 << 20) + TAGS + TAGS + carr(0) + cstr('') +
                          uvar(1) + uvar(0) + uvar(3) + cstr('cl')),
    'fetch_v13_ids': (1, 13, i32(-1) + i32(500) + i32(1) + i32(1 << 20) + i8(1) + i32(0) +
                      i32(-1) + carr(1) + UUID + carr(1) + i32(0) + i32(-1) + i64(0) + i32(-1) +
                      i64(-1) + i32(1 << 20) + TAGS + TAGS + carr(1) + UUID + carr(1) + i32(1) +
                      TAGS + cstr('r') + TAGS),
    'listoffsets_v7': (2, 7, i32(-1) + i8(0) + carr(1) + cstr('t') + carr(1) + i32(0) + i32(-1) +
                       i64(-3) + TAGS + TAGS + TAGS),
    'metadata_v12': (3, 12, carr(2) + UUID + cnstr(None) + TAGS + bytes(16) + cnstr('t') + TAGS +
                     b'\x01' + b'\x00' + TAGS),
    'offsetcommit_v8': (4, 8, cstr('g') + i32(1) + cstr('m') + cnstr('i') + carr(1) + cstr('t') +
                        carr(1) + i32(0) + i64(5) + i32(-1) + cnstr(None) + TAGS + TAGS + TAGS),
    'offsetfetch_v8': (5, 8, carr(2) + cstr('g1') + carr(-1 + 0) + TAGS + cstr('g2') + carr(1) +
                       cstr('t') + carr(1) + i32(0) + TAGS + TAGS + b'\x01' + TAGS),
    'findcoordinator_v4': (6, 4, i8(0) + carr(2) + cstr('a') + cstr('b') + TAGS),
    'joingroup_v9': (7, 9, cstr('g') + i32(45000) + i32(300000) + cstr('') + cnstr('static') +
                     cstr('consumer') + carr(1) + cstr('range') + cbytes(b'\x00\x01') + TAGS +
                     cnstr('reason') + TAGS),
    'heartbeat_v4': (8, 4, cstr('g') + i32(1) + cstr('m') + cnstr(None) + TAGS),
    'leavegroup_v5': (9, 5, cstr('g') + carr(1) + cstr('m') + cnstr(None) + cnstr('bye') + TAGS +
                      TAGS),
    'syncgroup_v5': (10, 5, cstr('g') + i32(1) + cstr('m') + cnstr(None) + cnstr('consumer') +
                     cnstr('range') + carr(1) + cstr('m') + cbytes(b'A') + TAGS + TAGS),
    'describegroups_v5': (11, 5, carr(1) + cstr('g') + b'\x01' + TAGS),
    'listgroups_v4': (12, 4, carr(1) + cstr('Stable') + TAGS),
    'saslhandshake_v1': (13, 1, i16(5) + b'PLAIN'),
    'apiversions_v3': (14, 3, cstr('pgcdc') + cstr('1.0') + TAGS),
    'saslauthenticate_v2': (15, 2, cbytes(b'\x00alice\x00secret') + TAGS),
}

FRAMES = ['kcat_apiversions_v3_req', 'kcat_metadata_v2_req', 'kcat_produce_v7_gzip',
          'kcat_fetch_v11_req', 'kcat_joingroup_v5_req', 'kcat_syncgroup_v3_req',
          'kcat_offsetcommit_v7_req', 'kcat_findcoordinator_v2_req', 'kafkajs_offsetfetch_v4_req',
          'kafkajs_listoffsets_v3_req', 'kafkajs_heartbeat_v3_req', 'kafkajs_leavegroup_v1_req']


def produce_records(frame):
    """Records of the first partition of a Produce v3-v8 request frame."""
    pos = 8
    (n,) = struct.unpack_from('>h', frame, pos)
    pos += 2 + max(n, 0)  # client id
    (n,) = struct.unpack_from('>h', frame, pos)
    pos += 2 + max(n, 0)  # transactional id
    pos += 2 + 4 + 4  # acks, timeout, topic count
    (n,) = struct.unpack_from('>h', frame, pos)
    pos += 2 + n + 4 + 4  # topic name, partition count, partition index
    (n,) = struct.unpack_from('>i', frame, pos)
    return frame[pos + 4:pos + 4 + n]


def fetch_records(frame):
    """Records of the first non-empty partition of a Fetch v11 response frame."""
    pos = 4 + 4 + 2 + 4 + 4  # correlation id, throttle, error, session, topic count
    (n,) = struct.unpack_from('>h', frame, pos)
    pos += 2 + n
    (parts,) = struct.unpack_from('>i', frame, pos)
    pos += 4
    for _ in range(parts):
        pos += 4 + 2 + 8 + 8 + 8
        (aborted,) = struct.unpack_from('>i', frame, pos)
        pos += 4 + 16 * max(aborted, 0) + 4
        (n,) = struct.unpack_from('>i', frame, pos)
        pos += 4
        if n > 0:
            return frame[pos:pos + n]
    raise ValueError('no records')


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def write(name, data):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)

    def read(name):
        with open(os.path.join(HERE, name + '.bin'), 'rb') as f:
            return f.read()

    for name in FRAMES:
        write('frame_' + name, b'\x00' + read(name))
    # Records: CRC checked (0x08); re-encode codec in bits 4-7.
    for i, codec in enumerate(['none', 'gzip', 'snappy', 'lz4', 'zstd']):
        rec = produce_records(read('kcat_produce_v7_' + codec))
        write('records_kcat_' + codec, bytes([0x01 | 0x08 | (((i + 1) % 5) << 4)]) + rec)
    write('records_kafkajs_gzip',
          b'\x09' + produce_records(read('kafkajs_produce_v7_gzip')))
    # A mock Fetch response's records plus a cut-off batch (partial tail allowed: bit 2).
    recs = fetch_records(read('mock_fetch_v11_resp_kcat_data'))
    write('records_fetch_tail', b'\x0d' + recs + recs[:30])
    write('stream_three_frames', b'\x0a' + b''.join(
        i32(len(f)) + f for f in (read('kcat_apiversions_v3_req'), read('kcat_metadata_v2_req'),
                                  read('kafkajs_heartbeat_v3_req'))))
    for name, (api, version, body) in FLEX.items():
        write('body_' + name, b'\x03' + bytes([api, version]) + body)
    print('wrote %d seeds' % len(os.listdir(out)))


if __name__ == '__main__':
    main()

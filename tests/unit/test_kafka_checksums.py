"""kafka-python (the relay's producer, the projector's consumer) checks every record
batch's CRC-32C: with the ``crc32c`` package it does so in C; without it, in pure
Python, which was 7.7% of the projector's CPU in issue 16's bench profile (3 ms a
16 KiB batch against 1 us)."""

import os

import crc32c
from kafka.record import util
from kafka.record._crc32c import crc as pure_python_crc


def test_record_batches_are_checksummed_in_c_with_the_same_result():
    assert util.calc_crc32c.__defaults__ == (crc32c.crc32c,)
    batch = memoryview(os.urandom(4096))
    assert util.calc_crc32c(batch) == pure_python_crc(batch)

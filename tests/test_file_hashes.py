"""One SHA-256 for a page file everywhere: the manifest (vision), the gateway's upload queue and the dashboard's
store all name a file by the same function, so a page is never re-sent or refused for a hash they disagree on."""

from __future__ import annotations

import hashlib

from dashboard import page_files
from gateway import uploads
from hardware.files import sha256_of
from vision import outputs


def test_a_file_hash_is_its_sha256_read_in_blocks(tmp_path):
    path = tmp_path / "0001.tif"
    data = bytes(range(256)) * 20_000  # several blocks
    path.write_bytes(data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_of(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_the_manifest_the_gateway_and_the_dashboard_hash_with_the_same_function(tmp_path):
    assert uploads.sha256_of is sha256_of and page_files.sha256_of is sha256_of
    path = tmp_path / "0001.jpg"
    path.write_bytes(b"page")
    assert outputs.file_entry(path, tmp_path) == {"path": "0001.jpg", "sha256": sha256_of(path), "bytes": 4}

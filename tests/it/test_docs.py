"""Every option is documented: in the default ward.conf (with a comment), in
the configuration reference and in the man page; every `ward scan` option is
in ward(1) and docs/ward.md."""
import re

from conftest import ROOT


def table_options():
    src = (ROOT / "src" / "lib" / "util" / "options.c").read_text()
    return re.findall(r'\{"(\w+)", "(\w+)", WARD_OPT_', src)


def test_options_table_is_not_empty():
    assert len(table_options()) >= 20


def test_every_option_in_default_config_with_a_comment():
    conf = (ROOT / "conf" / "ward.conf").read_text().splitlines()
    section = None
    seen = {}
    for i, line in enumerate(conf):
        m = re.match(r"\[(\w+)\]", line)
        if m:
            section = m.group(1)
        m = re.match(r"#?(\w+) =( |$)", line)
        if m and section:
            seen[(section, m.group(1))] = i
    for section, key in table_options():
        assert (section, key) in seen, f"[{section}] {key} missing from conf/ward.conf"
        i = seen[(section, key)]
        above = conf[i - 1] if i else ""
        assert above.startswith("#"), f"[{section}] {key} has no comment above it"


def test_every_option_in_reference_and_man_page():
    ref = (ROOT / "docs" / "configuration.md").read_text()
    man = (ROOT / "docs" / "man" / "ward.conf.5").read_text()
    for section, key in table_options():
        assert f"`{key}`" in ref, f"{key} missing from docs/configuration.md"
        assert f".B {key}" in man, f"{key} missing from ward.conf(5)"


def test_every_scan_option_documented():
    src = (ROOT / "src" / "ward" / "cmd_scan.c").read_text()
    opts = set(re.findall(r'\{"([a-z-]+)", (?:required|no)_argument', src)) - {"help", "allmatch"}
    page = (ROOT / "docs" / "ward.md").read_text()
    man = (ROOT / "docs" / "man" / "ward.1").read_text().replace("\\-", "-")
    for o in opts:
        assert f"--{o}" in page, f"--{o} missing from docs/ward.md"
        assert f"--{o}" in man, f"--{o} missing from ward(1)"

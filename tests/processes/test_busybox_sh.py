"""busybox sh scripts print under quark what they print natively
(native: `chroot rootfs /bin/sh -c SCRIPT`, the same rootfs and environment).

Every script is deterministic whatever the scheduling: output of concurrent
jobs goes through files or `sort`, and no PID is printed.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.guest import run_native, write_config
from tests.processes.helpers import assert_same, run_container

SCRIPTS = {
    "pipeline": r"""
seq 1 2000 | grep 7 | sort -r | head -5 | tr '\n' ' '; echo
cat /etc/passwd | cut -d: -f1 | sort | uniq -c
false | true; echo "status $?"
true | false; echo "status $?"
seq 1 50000 | md5sum
yes quark | head -n 3
""",
    "subshell": r"""
x=1
(x=2; echo "inside $x"; exit 3); echo "outside $x status $?"
(cd /etc && pwd); pwd
( (echo deep; exit 4); echo "inner $?" ); echo "outer $?"
{ echo grouped; echo braces; } | wc -l
umask 022; (umask 077; umask); umask
""",
    "command_substitution": r"""
a=$(echo hi | tr a-z A-Z); b=`expr 2 + 3`
echo "$a $b $(echo $(echo nested) twice)"
n=$(seq 1 100 | wc -l); echo "lines $n"
big=$(seq 1 30000); echo "${#big}"
echo "status $(false; echo $?) $(exit 9; echo x)$?"
""",
    "background_and_wait": r"""
rm -f /tmp/bg.*
(sleep 0.3; echo slow > /tmp/bg.1) & p1=$!
(echo fast > /tmp/bg.2) & p2=$!
wait $p1; echo "first $?"
wait $p2; echo "second $?"
cat /tmp/bg.1 /tmp/bg.2
(exit 5) & wait $!; echo "exit status $?"
sleep 0.1 & sleep 0.2 & sleep 0.1 & wait; echo "all waited $?"
{ for i in 1 2 3 4 5 6; do (echo "job $i") & done; wait; } | sort
sleep 10 & kill $!; wait $! 2>/dev/null; echo "killed $?"   # (ash's "Terminated" note depends on a race)
rm -f /tmp/bg.*
""",
    "trap": r"""
trap 'echo got USR1' USR1
kill -USR1 $$
echo after USR1
trap 'echo got HUP' HUP
(kill -HUP $$)
echo after HUP
trap 'echo caught TERM; kill $s' TERM
sleep 10 & s=$!
(sleep 0.3; kill -TERM $$) &
wait $s; echo "wait returned $?"
wait
trap - USR1
trap 'echo leaving' EXIT
echo end
exit 3
""",
    "here_documents": r"""
name=quark
cat <<EOF
hello $name
sum $((2 + 3)) sub $(echo inner)
EOF
cat <<'EOF'
literal $name $(not run)
EOF
while read a b; do echo "$b-$a"; done <<EOF
1 one
2 two
3 three
EOF
cat <<EOF | wc -c
$(seq 1 30000)
EOF
tr a-z A-Z <<-EOF
	tabs stripped
	EOF
""",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script(bb_bundle: Path, name: str) -> None:
    args = ["/bin/sh", "-c", SCRIPTS[name]]
    write_config(bb_bundle, args)
    got = run_container(bb_bundle)
    want = run_native(bb_bundle / "rootfs", args)
    assert_same(got, want)


def test_fork_heavy_loop(bb_bundle: Path) -> None:
    # 200 short-lived children (command substitutions and pipelines).
    script = r"""
i=0; t=0
while [ $i -lt 100 ]; do
  t=$(( t + $(echo $i | wc -c) )); i=$((i + 1))
done
echo "total $t"
"""
    args = ["/bin/sh", "-c", script]
    write_config(bb_bundle, args)
    got = run_container(bb_bundle)
    want = run_native(bb_bundle / "rootfs", args)
    assert_same(got, want)
    assert got.stdout == "total 290\n"

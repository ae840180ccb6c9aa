"""The host's own programs (bash, coreutils, tar, findutils, python3, perl),
run from a bundle that binds the host's /usr and /etc read-only
(scripts/build_host_bundle.sh), print under quark what they print natively.

Native reference: `run_native_ns` (helpers.py), the same bundle mounted for
real in private namespaces and chrooted into, as PID 1 with the bundle's
hostname, cwd /tmp on a fresh tmpfs. Scripts print no PIDs nor times.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes.helpers import assert_same, run_container, run_native_ns, set_process


def same_as_native(bundle: Path, args: list[str], cwd: str = "/tmp") -> str:
    set_process(bundle, args, cwd=cwd)
    got = run_container(bundle)
    want = run_native_ns(bundle)
    assert_same(got, want)
    return got.stdout


BASH = {
    "pipeline": r"""
seq 1 3000 | grep 3 | sort -rn | head -4 | paste -sd,
false | true | false; echo "pipestatus ${PIPESTATUS[*]}"
set -o pipefail; false | true; echo "pipefail $?"; set +o pipefail
diff <(seq 1 5) <(seq 1 5) && echo "same via process substitution"
mapfile -t lines < <(printf '%s\n' c a b | sort); echo "${lines[@]}"
""",
    "subshell_and_substitution": r"""
x=outer; (x=inner; echo $x; exit 4); echo "$x $?"
echo "$(echo "$(echo deep | rev)")"
n=$(ls /usr/bin | wc -l); [ "$n" -gt 100 ] && echo many
read -r first rest <<< "$(echo one two three)"; echo "$first|$rest"
""",
    "jobs_and_wait": r"""
for i in 3 1 2; do (sleep 0.$i; echo "done $i" >> /tmp/order) & done
wait; sort /tmp/order
sleep 0.1 & p=$!; (exit 6) & q=$!
wait $q; echo "q $?"; wait $p; echo "p $?"
(sleep 1; exit 2) & (sleep 0.2; exit 1) &
wait -n; echo "first finished $?"; wait
sleep 10 & kill -TERM $!; wait $! 2>/dev/null; echo "terminated $?"
coproc UPPER { tr a-z A-Z; }
echo quark >&"${UPPER[1]}"; exec {UPPER[1]}>&-
read -r line <&"${UPPER[0]}"; echo "coproc $line"; wait
""",
    "traps": r"""
trap 'echo got USR1' USR1; kill -USR1 $$; echo after
trap 'echo child said TERM; kill $s' TERM
sleep 10 & s=$!
(sleep 0.3; kill -TERM $$) &
wait $s; echo "wait $?"; wait
trap 'echo in ERR' ERR; false; trap - ERR
trap 'echo bye' EXIT
exit 5
""",
    "here_documents": r"""
v=value
cat <<EOF
expanded $v $((6 * 7)) $(echo sub)
EOF
cat <<'EOF'
verbatim $v
EOF
cat <<EOF | sha256sum
$(seq 1 40000)
EOF
""",
}


@pytest.mark.parametrize("name", sorted(BASH))
def test_bash(host_bundle: Path, name: str) -> None:
    same_as_native(host_bundle, ["/bin/bash", "-c", BASH[name]])


COREUTILS = {
    "ls": r"""
mkdir -p d/sub; printf abc > d/a; printf hello > d/b; ln -s a d/link; chmod 600 d/b
ls d; ls -la --time-style=+ d d/sub; ls -R d; ls -l --time-style=+ /usr/bin/bash
""",
    "cp_a": r"""
mkdir -p src/x/y; seq 1 1000 > src/x/n; echo hi > src/x/y/h; ln -s x/n src/ln
chmod 640 src/x/n; touch -h -d '2001-02-03 04:05:06' src/x/n src/x/y/h src/x/y src/x src/ln src
cp -a src dst
find dst -printf '%p %y %m %s %TY-%Tm-%Td %TH:%TM %l\n' | sort
cmp src/x/n dst/x/n && echo identical
""",
    "tar": r"""
mkdir -p t/a/b; seq 1 5000 > t/a/n; echo small > t/a/b/s; ln -s a/n t/link
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf t.tar t
md5sum t.tar; tar -tvf t.tar
mkdir out; tar -xf t.tar -C out; diff -r t out/t && echo extracted same
tar -czf - t | tar -tzf - | sort
""",
    "sort": r"""
seq 1 200000 | sort -R --random-source=/usr/bin/bash | sort -n | md5sum
printf 'b,2\na,10\nc,1\na,2\n' | sort -t, -k1,1 -k2,2n
seq 1 300000 | sort -r --parallel=4 -S 1M | md5sum
""",
    "find_exec": r"""
mkdir -p f/a f/b; for i in 1 2 3; do echo $i > f/a/$i; echo x$i > f/b/$i.txt; done
find f -type f -exec md5sum {} + | sort
find f -name '*.txt' -exec sh -c 'echo "$1: $(cat "$1")"' _ {} \; | sort
find /usr/bin -maxdepth 1 -name 'bas*' -exec basename {} \; | sort
""",
    "xargs": r"""
seq 1 20 | xargs -n 3 echo
seq 1 40 | xargs -P 4 -n 5 sh -c 'echo $(( $1 + $2 + $3 + $4 + $5 ))' _ | sort -n
printf 'a b\0c\0' | xargs -0 -n 1 printf '[%s]\n'
seq 1 5 | xargs -I{} sh -c 'exit 0' ; echo "status $?"
seq 1 3 | xargs sh -c 'exit 7'; echo "status $?"
""",
}


@pytest.mark.parametrize("name", sorted(COREUTILS))
def test_coreutils(host_bundle: Path, name: str) -> None:
    same_as_native(host_bundle, ["/bin/sh", "-c", "set -e\n" + COREUTILS[name]
                                 if name != "xargs" else COREUTILS[name]])


PYTHON = {
    "threads": r"""
import threading
results = [None] * 10
lock = threading.Lock()
shared = []
def work(i):
    total = 0
    for k in range(20000):
        total += k * i
    results[i] = total
    with lock:
        shared.append(i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(results)
print(sorted(shared), threading.active_count())
""",
    "subprocess": r"""
import subprocess
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
print(r.returncode, repr(r.stdout), repr(r.stderr))
print(subprocess.run("seq 1 100 | wc -l", shell=True, stdout=subprocess.PIPE, text=True).stdout)
print(subprocess.check_output(["python3", "-c", "import sys; print(sys.argv[1:])", "a b", "c"]))
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(p.communicate(b"through a pipe\n"), p.returncode)
p = subprocess.Popen(["sleep", "10"]); p.terminate(); print("terminated", p.wait())
""",
    "multiprocessing": r"""
import multiprocessing as mp
def square(x):
    return x * x
if __name__ == "__main__":
    with mp.Pool(2) as pool:
        print(sum(pool.map(square, range(1000))), pool.apply(square, (12,)))
        print(sorted(pool.imap_unordered(square, range(10))))
    q = mp.Queue()
    p = mp.Process(target=q.put, args=("from a process",))
    p.start(); print(q.get()); p.join(); print("exitcode", p.exitcode)
""",
    "signals": r"""
import os, signal, time
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append("USR1"))
os.kill(os.getpid(), signal.SIGUSR1)
signal.signal(signal.SIGALRM, lambda s, f: got.append("ALRM"))
signal.setitimer(signal.ITIMER_REAL, 0.1)
signal.pause()
signal.signal(signal.SIGUSR2, lambda s, f: got.append("USR2 from child"))
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
pid = os.fork()
if pid == 0:
    os.kill(os.getppid(), signal.SIGUSR2)
    os._exit(0)
os.waitpid(pid, 0)
print("pending", signal.SIGUSR2 in signal.sigpending())
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR2})
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(30)
    os._exit(0)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print(got, os.WIFSIGNALED(status), os.WTERMSIG(status))
try:
    signal.signal(signal.SIGALRM, lambda s, f: 1 / 0)
    signal.alarm(1)
    time.sleep(5)
except ZeroDivisionError:
    print("handler raised in the main thread")
""",
    "sleep": r"""
import threading, time
t0 = time.monotonic(); time.sleep(0.3); d = time.monotonic() - t0
print("slept", 0.3 <= d < 3)
t0 = time.monotonic()
ts = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(5)]
for t in ts: t.start()
for t in ts: t.join()
d = time.monotonic() - t0
print("concurrent sleeps", 0.5 <= d < 2.4)
""",
}


@pytest.mark.parametrize("name", sorted(PYTHON))
def test_python(host_bundle: Path, name: str) -> None:
    same_as_native(host_bundle, ["/usr/bin/python3", "-c", PYTHON[name]])


PERL = r"""
$| = 1;
my @kids;
for my $i (1 .. 3) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) { exit $i * 10 }
    push @kids, $pid;
}
for my $pid (@kids) { waitpid($pid, 0); print "child exit ", $? >> 8, "\n" }
pipe(my $r, my $w) or die;
if (my $pid = fork()) {
    close $w; my $line = <$r>; waitpid($pid, 0); print "parent read: $line";
} else {
    close $r; print $w "hello from the child\n"; exit 0;
}
my $out = `echo backticks | tr a-z A-Z`; print $out;
system("sh", "-c", "exit 3"); print "system ", $? >> 8, "\n";
$SIG{USR1} = sub { print "perl got USR1\n" }; kill 'USR1', $$;
print "done\n";
"""


def test_perl_fork(host_bundle: Path) -> None:
    out = same_as_native(host_bundle, ["/usr/bin/perl", "-e", PERL])
    assert "child exit 30" in out and "parent read: hello from the child" in out

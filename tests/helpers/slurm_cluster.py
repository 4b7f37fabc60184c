"""A one-node Slurm cluster for the tests: munge, slurmctld and slurmd from Debian's packages,
started as root in a temporary state folder and a private network namespace (only a loopback
interface, so nothing listens beyond this machine and clusters of parallel test workers never
clash over ports). Starts in a few seconds; :meth:`SlurmCluster.stop` ends every daemon.

Commands against the cluster run through :meth:`SlurmCluster.command`, which enters the
namespace and sets ``SLURM_CONF``. From a shell (what ``.ci/run`` can call to check)::

    python -m tests.helpers.slurm_cluster   # start, run a job, stop (or say why not)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "scontrol", "scancel", "squeue", "sinfo")
PARTITION = "debug"
#: the namespace's only interface is loopback; Slurm resolves names with AI_ADDRCONFIG, which
#: wants one non-loopback IPv4 address, so loopback gets a private one that leads nowhere
NAMESPACE_SHELL = ("ip link set lo up && ip addr add 10.255.255.254/32 dev lo && "
                   "exec sleep infinity")
NODE = "localhost"


def unavailable() -> str | None:
    """Why a cluster cannot start here (None when it can)."""
    if os.geteuid() != 0:
        return "the local Slurm cluster needs root (munged, slurmd and a network namespace)"
    missing = [name for name in (*DAEMONS, *CLIENTS, "unshare", "nsenter", "ip")
               if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]
    if missing:
        return (f"the local Slurm cluster needs {', '.join(missing)}: apt-get install "
                "slurmctld slurmd slurm-client munge iproute2 (tests/install_services.sh)")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no private network namespace here (unshare --net: {probe.stderr.strip()})"
    return None


def _which(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


SLURM_CONF = """\
ClusterName=seqlstm-test
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket,cred_expire={cred_expire}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait={kill_wait}
MinJobAge=300
SchedulerType=sched/builtin
SchedulerParameters=sched_interval={sched_interval}
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmCluster:
    """One node (``localhost``, this machine's cores, no GPUs), one partition (``debug``).

    Args:
        root: an empty folder for the configuration, state, spool and logs.
        kill_wait: seconds between SIGTERM and SIGKILL when a job is ended or requeued.
        cred_expire: seconds a job credential lives (``AuthInfo=cred_expire``), which is also
            how long a requeued job is held (its BeginTime) before it may start again: 120 by
            default, 5 (the least Slurm takes) here so a requeued job restarts within seconds.
        sched_interval: seconds between the scheduler's passes over every pending job
            (``SchedulerParameters=sched_interval``, 60 by default); a requeued job whose hold
            ends starts at the next pass, since no event wakes the scheduler for it.
    """

    def __init__(self, root: Path, kill_wait: int = 10, cred_expire: int = 5,
                 sched_interval: int = 1) -> None:
        self.root, self.kill_wait = Path(root), kill_wait
        self.cred_expire, self.sched_interval = cred_expire, sched_interval
        self.conf = self.root / "slurm.conf"
        self._holder: subprocess.Popen | None = None
        self._daemons: list[subprocess.Popen] = []

    # -- commands ----------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """This process's environment with ``SLURM_CONF`` pointing at the cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def command(self, *args: str) -> list[str]:
        """``args`` as a command that runs inside the cluster's network namespace."""
        assert self._holder is not None, "the cluster is not running"
        return ["nsenter", f"--net=/proc/{self._holder.pid}/ns/net", *args]

    def run(self, *args: str, check: bool = True, timeout: float = 60,
            env: dict[str, str] | None = None) -> str:
        """Run a Slurm client command (``scontrol``, ``sbatch``...) and return its stdout;
        ``env`` replaces :attr:`env` (a job submitted with it runs with it)."""
        result = subprocess.run(self.command(*args), env=env or self.env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): "
                               f"{result.stderr.strip()}")
        return result.stdout

    def job_field(self, job_id: str, name: str) -> str:
        """A field of ``scontrol show job`` (``JobState``, ``Restarts``...)."""
        for word in self.run("scontrol", "-o", "show", "job", job_id).split():
            if word.startswith(f"{name}="):
                return word.split("=", 1)[1]
        raise KeyError(name)

    def wait_for(self, job_id: str, states: Sequence[str], timeout: float) -> str:
        """Poll the job until its state is one of ``states``; returns it."""
        deadline, state = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            state = self.job_field(job_id, "JobState")
            if state in states:
                return state
            time.sleep(0.3)
        raise TimeoutError(f"job {job_id} stayed {state}, not {list(states)}, for {timeout} s;"
                           f" slurmctld log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        text = []
        for name in ("slurmctld.log", "slurmd.log"):
            path = self.root / name
            if path.exists():
                text.append(f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-lines:]))
        return "\n".join(text)

    # -- start and stop ----------------------------------------------------------------------
    def start(self, timeout: float = 30) -> SlurmCluster:
        """Write the configuration, start munged, slurmctld and slurmd, and wait until the
        node is idle. Stops whatever did start if anything fails."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        for folder in ("munge", "state", "spool"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        self.conf.write_text(SLURM_CONF.format(root=self.root, node=NODE, partition=PARTITION,
                                               cpus=os.cpu_count() or 1,
                                               kill_wait=self.kill_wait,
                                               cred_expire=self.cred_expire,
                                               sched_interval=self.sched_interval))
        # the namespace lives as long as this process: a shell that brings loopback up, then
        # waits; every daemon and client joins it with nsenter
        self._holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", NAMESPACE_SHELL],
            start_new_session=True)
        self._wait(lambda: self._lo_up(), timeout, "loopback up in the namespace")
        munge = self.root / "munge"
        self._spawn(_which("munged"), "--foreground", "--force",
                    f"--socket={munge / 'munge.socket'}", f"--key-file={key}",
                    f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
                    f"--seed-file={munge / 'munged.seed'}", "--num-threads=2")
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged's socket")
        self._spawn(_which("slurmctld"), "-D", "-i", "-f", str(self.conf))
        self._spawn(_which("slurmd"), "-D", "-N", NODE, "-f", str(self.conf))
        self._wait(self._node_idle, timeout, "the node to be idle")

    def _spawn(self, *args: str) -> None:
        log = (self.root / f"{Path(args[0]).name}.out").open("w")
        self._daemons.append(subprocess.Popen(self.command(*args), env=self.env, stdout=log,
                                              stderr=subprocess.STDOUT,
                                              start_new_session=True))
        log.close()

    def _lo_up(self) -> bool:
        out = subprocess.run(self.command("ip", "-o", "link", "show", "lo"),
                             capture_output=True, text=True).stdout
        return "UP" in out.split(">")[0]

    def _node_idle(self) -> bool:
        for daemon in self._daemons:
            if daemon.poll() is not None:
                raise RuntimeError(f"{daemon.args[2]} exited ({daemon.returncode}):\n"
                                   f"{self.log_tail()}")
        result = subprocess.run(self.command("sinfo", "-h", "-o", "%t"), env=self.env,
                                capture_output=True, text=True)
        return result.returncode == 0 and result.stdout.strip() == "idle"

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Slurm cluster did not start: no {what} after "
                                   f"{timeout} s\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Cancel every job and wait for it to end, then end the daemons and every process
        left in the namespace (job steps outlive slurmd, so they are found by namespace)."""
        if self._holder is not None and self._holder.poll() is None:
            if self._daemons:
                subprocess.run(self.command("scancel", "--user=root"), env=self.env,
                               capture_output=True, timeout=30)
                deadline = time.monotonic() + self.kill_wait + 10
                while time.monotonic() < deadline and self._jobs_left():
                    time.sleep(0.3)
            namespace = os.readlink(f"/proc/{self._holder.pid}/ns/net")
            for daemon in reversed(self._daemons):
                _end(daemon)
            for pid in _processes_in(namespace):
                if pid != self._holder.pid:
                    _kill(pid)
        if self._holder is not None:
            _end(self._holder)
        self._daemons, self._holder = [], None

    def _jobs_left(self) -> bool:
        result = subprocess.run(self.command("squeue", "-h", "-o", "%i"), env=self.env,
                                capture_output=True, text=True, timeout=30)
        return result.returncode == 0 and bool(result.stdout.strip())


def _end(process: subprocess.Popen) -> None:
    """SIGTERM to the process's group, SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


def _processes_in(namespace: str) -> list[int]:
    """Every process in the network namespace ``namespace`` (``net:[inode]``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "net") == namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main() -> int:
    reason = unavailable()
    if reason:
        print(f"skip: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="slurm-") as root:
        started = time.monotonic()
        cluster = SlurmCluster(Path(root)).start()
        try:
            print(f"cluster up in {time.monotonic() - started:.1f} s")
            started = time.monotonic()
            out = cluster.run("sbatch", "--parsable", "--wait", f"--output={root}/job.out",
                              "--wrap", "srun hostname", timeout=60)
            print(f"job {out.strip()} ran in {time.monotonic() - started:.1f} s: "
                  f"{(Path(root) / 'job.out').read_text().strip()}")
        finally:
            started = time.monotonic()
            cluster.stop()
            print(f"cluster stopped in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

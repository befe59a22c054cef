#!/usr/bin/env python3
"""GRAPE recording benchmark: how many 24 kHz channels can `flow` record with zero loss,
and how much CPU does each channel cost?

For each channel count N it runs, on this machine:
  * `flow run` of a generated flowgraph: one `rtp_source` (multicast group on `lo`, N SSRCs)
    feeding N `binary_archive` sinks (fsync every 5 s by default), and
  * `grape-sender` (a separate process standing in for radiod: N channels of f32le I/Q at
    24 kHz, 180 samples per packet, real-time paced, status once a second),
and reports flow's CPU time during the send (from /proc/PID/stat), the loss counters
(rtp_source lost / kernel_drops / edge drops) and the samples the archives wrote.

    cargo build --release --bin flow --example grape-sender
    python3 bench/grape_channels.py --channels 25,50,100,150,200 --seconds 30
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOW = os.path.join(ROOT, "target", "release", "flow")
SENDER = os.path.join(ROOT, "target", "release", "examples", "grape-sender")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def flowgraph(n, group, port, status_port, data_dir, rate, fsync="5s"):
    chans = ", ".join(f'{{ ssrc = {c}, name = "ch{c}" }}' for c in range(1, n + 1))
    text = [
        '[flowgraph]\nname = "grape-bench"\n',
        f'[blocks.rx]\ntype = "rtp_source"\naddress = "{group}:{port}"\n'
        f'status = "{group}:{status_port}"\ninterface = "127.0.0.1"\n'
        f'sample_rate = {float(rate)}\nencoding = "f32le"\nbuffer = 131072\n'
        f"channels = [{chans}]\n",
    ]
    for c in range(1, n + 1):
        text.append(
            f'[blocks.ch{c}]\ntype = "binary_archive"\ninputs = ["rx.ch{c}"]\n'
            f'dir = "{data_dir}"\nfsync = "{fsync}"\n'
        )
    return "\n".join(text)


def wait_bound(group, port, limit=30):
    end = time.time() + limit
    while time.time() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((group, port))
        except OSError:
            return
        finally:
            s.close()
        time.sleep(0.05)
    raise SystemExit(f"flow did not bind {group}:{port}")


def counter(summary, block, name):
    for line in summary.splitlines():
        if line.split()[:1] == [block]:
            m = re.search(rf"\b{name}=([\d,]+)", line)
            return int(m.group(1).replace(",", "")) if m else None
    return None


def column(summary, block, index):
    for line in summary.splitlines():
        parts = line.split()
        if parts[:1] == [block]:
            return int(parts[index].replace(",", ""))
    return None


def run(n, seconds, rate, workdir, port, fsync):
    group = "239.77.0.1"
    data_dir = os.path.join(workdir, f"n{n}")
    fg = os.path.join(workdir, f"bench-{n}.toml")
    with open(fg, "w") as f:
        f.write(flowgraph(n, group, port, port + 2, data_dir, rate, fsync))
    flow = subprocess.Popen([FLOW, "run", fg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_bound(group, port)
        wait_bound(group, port + 2)
        c0, t0 = cpu_seconds(flow.pid), time.time()
        sender = subprocess.run(
            [SENDER, "--dest", f"{group}:{port}", "--status", f"{group}:{port + 2}",
             "--iface", "127.0.0.1", "--channels", str(n), "--rate", str(rate),
             "--seconds", str(seconds), "--encoding", "f32le"],
            capture_output=True, text=True, check=True)
        c1, t1 = cpu_seconds(flow.pid), time.time()
        sender_usage = resource_children()
        time.sleep(1.0)  # let the last packets through the reorder window
    finally:
        flow.send_signal(signal.SIGINT)
        out, err = flow.communicate(timeout=120)
    if flow.returncode != 0:
        raise SystemExit(f"flow failed ({flow.returncode}):\n{out}\n{err}")
    sent = eval(sender.stdout.strip().replace("true", "True"))
    wall = t1 - t0
    archived = sum(counter(out, f"ch{c}", "samples") or 0 for c in range(1, n + 1))
    expected = n * sent["samples_per_channel"]
    lost = counter(out, "rx", "lost")
    kdrops = counter(out, "rx", "kernel_drops")
    edge = column(out, "rx", 4)
    cpu = (c1 - c0) / wall * 100.0
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "channels": n,
        "seconds": round(wall, 1),
        "cpu_pct": cpu,
        "cpu_per_channel_pct": cpu / n,
        "sender_cpu_pct": sender_usage / wall * 100.0,
        "packets": sent["packets"],
        "lost": lost,
        "kernel_drops": kdrops,
        "edge_drops": edge,
        "archived": archived,
        "expected": expected,
        "load": open("/proc/loadavg").read().split()[0],
        "zero_loss": lost == 0 and kdrops == 0 and edge == 0 and archived == expected,
    }


_children_cpu = [0.0]


def resource_children():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    delta = total - _children_cpu[0]
    _children_cpu[0] = total
    return delta


def main():
    global FLOW
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", default="25,50,100,150,200")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=24000)
    ap.add_argument("--port", type=int, default=15004)
    ap.add_argument("--fsync", default="5s", help="fsync policy of the archives")
    ap.add_argument("--dir", default=None, help="where the archives go (default: a temp dir)")
    ap.add_argument("--flow", default=FLOW, help="the flow binary (to compare two builds)")
    a = ap.parse_args()
    FLOW = a.flow
    for exe in (FLOW, SENDER):
        if not os.path.exists(exe):
            raise SystemExit(f"{exe} missing: cargo build --release --bin flow --example grape-sender")
    workdir = a.dir or tempfile.mkdtemp(prefix="grape-bench-")
    resource_children()
    rows = []
    print(f"| channels | seconds | flow CPU (% of one core) | per channel | sender CPU | packets | lost | kernel drops | edge drops | samples archived / sent | zero loss | load avg |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|")
    for n in [int(x) for x in a.channels.split(",")]:
        r = run(n, a.seconds, a.rate, workdir, a.port, a.fsync)
        rows.append(r)
        print(f"| {r['channels']} | {r['seconds']} | {r['cpu_pct']:.1f} | {r['cpu_per_channel_pct']:.3f} | "
              f"{r['sender_cpu_pct']:.1f} | {r['packets']:,} | {r['lost']} | {r['kernel_drops']} | "
              f"{r['edge_drops']} | {r['archived']:,} / {r['expected']:,} | {'yes' if r['zero_loss'] else 'NO'} | {r['load']} |",
              flush=True)
    if not a.dir:
        shutil.rmtree(workdir, ignore_errors=True)
    best = max((r["channels"] for r in rows if r["zero_loss"]), default=0)
    print(f"\nmost channels with zero loss: {best}")


if __name__ == "__main__":
    sys.exit(main())

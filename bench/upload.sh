#!/usr/bin/env bash
# Verified upload over SFTP on loopback: `flow upload` against OpenSSH's own client, in the
# same run, to the same server (Debian's sshd started here on 127.0.0.1).
#
#   bash bench/upload.sh [MiB] [runs]      # defaults: 512 MiB, 3 runs
#
# flow uploads each file to NAME.part, checks its size, reads it back and compares SHA-256,
# then renames it. The peer does the same work with OpenSSH: `sftp put`, `sftp get` back,
# sha256sum both, `sftp rename`. Plain `sftp put` (no verification) is shown too, as the
# floor. Needs openssh-server and openssh-client; builds flow in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-512}
runs=${2:-3}
cargo build --release -q
flow=$PWD/target/release/flow

work=$(mktemp -d /tmp/flow-upload-bench.XXXXXX)
trap 'kill "$(cat "$work/sshd.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
for k in host_key client_key; do ssh-keygen -q -t ed25519 -N '' -f "$work/$k"; done
cp "$work/client_key.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PidFile $work/sshd.pid
Subsystem sftp internal-sftp
EOF
echo "[127.0.0.1]:$port $(cat "$work/host_key.pub")" >"$work/known_hosts"
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
sshd=$(command -v sshd || echo /usr/sbin/sshd)
"$sshd" -f "$work/sshd_config" -E "$work/sshd.log"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

mkdir -p "$work/data" "$work/remote"
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/data/day.bin"
user=$(id -un)
ssh_opts=(-o "UserKnownHostsFile=$work/known_hosts" -o StrictHostKeyChecking=yes -i "$work/client_key" -P "$port")

cat >"$work/upload.toml" <<EOF
work_dir = "$work/queue"
[upload]
target = "sftp://$user@127.0.0.1:$port$work/remote"
key = "$work/client_key"
known_hosts = "$work/known_hosts"
EOF

seconds() { python3 -c 'import sys,time; print(f"{time.time():.3f}")'; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

printf '%-4s %-28s %8s %10s\n' run what seconds MiB/s
for r in $(seq "$runs"); do
  rm -rf "$work/queue" "$work/remote"/* && mkdir -p "$work/remote"
  t0=$(seconds)
  "$flow" upload "$work/upload.toml" --add "$work/data/day.bin" --remote-dir "r$r" >/dev/null
  t1=$(seconds)
  cmp -s "$work/data/day.bin" "$work/remote/r$r/day.bin" || { echo "flow: remote copy differs" >&2; exit 1; }
  f=$(elapsed "$t0" "$t1")

  t0=$(seconds)
  sftp -q -b - "${ssh_opts[@]}" "$user@127.0.0.1" >/dev/null <<EOF
mkdir $work/remote/p$r
put $work/data/day.bin $work/remote/p$r/day.bin.part
get $work/remote/p$r/day.bin.part $work/back.bin
EOF
  [ "$(sha256sum <"$work/data/day.bin")" = "$(sha256sum <"$work/back.bin")" ] || { echo "peer: mismatch" >&2; exit 1; }
  echo "rename $work/remote/p$r/day.bin.part $work/remote/p$r/day.bin" |
    sftp -q -b - "${ssh_opts[@]}" "$user@127.0.0.1" >/dev/null
  t1=$(seconds)
  p=$(elapsed "$t0" "$t1")
  rm -f "$work/back.bin"

  t0=$(seconds)
  echo "put $work/data/day.bin $work/remote/plain$r.bin" |
    sftp -q -b - "${ssh_opts[@]}" "$user@127.0.0.1" >/dev/null
  t1=$(seconds)
  q=$(elapsed "$t0" "$t1")

  for pair in "flow upload (verified):$f" "OpenSSH sftp (verified):$p" "OpenSSH sftp put only:$q"; do
    s=${pair##*:}
    printf '%-4s %-28s %8s %10s\n' "$r" "${pair%:*}" "$s" "$(python3 -c "print(f'{$mib/$s:.0f}')")"
  done
  python3 -c "print(f'     flow / OpenSSH verified: {$p/$f:.2f}x the throughput')"
done

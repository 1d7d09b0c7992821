//! Driving the release `kith` binary as a child process: the admin commands
//! that seed an instance, `kith serve` itself, readiness, and its memory.

use anyhow::{bail, Context as _, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const EMAIL: &str = "bench@example.com";

/// The release binary: `--kith-bin`, else `kith` beside this program (both
/// live in `$CARGO_TARGET_DIR/release`).
pub fn locate_kith(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?.parent().context("no folder around kith-bench")?.join("kith"),
    };
    if !path.is_file() {
        bail!(
            "{} is missing: build it first with `cargo build --release -p kith` (same CARGO_TARGET_DIR)",
            path.display()
        );
    }
    Ok(path)
}

/// `kith` with a clean environment: no inherited `KITH_*` setting changes what we measure.
fn kith(bin: &Path, data: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KITH_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("KITH_DATA", data);
    cmd
}

/// An instance with one operator account and an API token for it, made with
/// `kith admin` (so the database, migrations and master key are Kith's own).
pub struct Seeded {
    pub user_id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    pub token: String,
}

pub fn seed_account(bin: &Path, data: &Path) -> Result<Seeded> {
    std::fs::create_dir_all(data)?;
    let pw = data.join("bench-password.txt");
    std::fs::write(&pw, "correct horse battery staple bench\n")?;
    let out = kith(bin, data)
        .args(["admin", "create-user", "--email", EMAIL, "--name", "Bench", "--org-name", "Bench"])
        .arg("--password-file")
        .arg(&pw)
        .output()?;
    if !out.status.success() {
        bail!("kith admin create-user failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::remove_file(&pw)?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("create-user output")?;
    let id = |k: &str| -> Result<uuid::Uuid> {
        v[k].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()).with_context(|| format!("no {k} in {v}"))
    };
    let (user_id, org_id) = (id("user_id")?, id("org_id")?);
    let out = kith(bin, data)
        .args(["admin", "create-token", "--email", EMAIL, "--name", "bench", "--org", &org_id.to_string()])
        .output()?;
    if !out.status.success() {
        bail!("kith admin create-token failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let token = String::from_utf8(out.stdout)?.trim().to_string();
    Ok(Seeded { user_id, org_id, token })
}

/// `kith admin verify-audit --org`: fails unless the chain is intact.
pub fn verify_audit(bin: &Path, data: &Path, org_id: uuid::Uuid) -> Result<()> {
    let out = kith(bin, data).args(["admin", "verify-audit", "--org", &org_id.to_string()]).output()?;
    let said = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !said.contains("intact") {
        bail!("kith admin verify-audit: {} {}", said.trim(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A free port on 127.0.0.1 (bound, read, released: the child binds it next).
pub fn free_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// A running `kith serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub spawned: Instant,
}

/// Spawn `kith serve` on `data` (created by Kith if missing). Logs (info, text:
/// the defaults) go to `log`. `extra` are more environment variables.
pub fn spawn_serve(bin: &Path, data: &Path, log: &Path, extra: &[(&str, &str)]) -> Result<Server> {
    let addr = free_addr()?;
    let mut cmd = kith(bin, data);
    cmd.arg("serve")
        .env("KITH_LISTEN", addr.to_string())
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    let spawned = Instant::now();
    let child = cmd.spawn().with_context(|| format!("spawning {}", bin.display()))?;
    Ok(Server { child, addr, spawned })
}

impl Server {
    /// Poll `/readyz` (new connection each try, 1 ms apart) until it answers
    /// 200; the time since the spawn.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        loop {
            if ready(self.addr) {
                return Ok(self.spawned.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("kith serve exited before it was ready ({status})");
            }
            if self.spawned.elapsed() > timeout {
                bail!("kith serve was not ready after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (graceful: in-flight work finishes, SQLite closes cleanly), then SIGKILL after 15 s.
    pub fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("kith serve did not stop within 15 s of SIGTERM")
    }
}

/// One GET /readyz: true on a 200.
fn ready(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && &head == b"HTTP/1.1 200"
}

/// Resident and peak resident memory of a process, in KiB (`VmRSS`, `VmHWM`).
pub fn memory_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used, from /proc/<pid>/stat.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// CPU time of this process's threads whose name starts with `prefix`
/// (`/proc/self/task/*/stat`): how the bench tells its load generator's share
/// from the in-process server's.
pub fn own_threads_cpu_time(prefix: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("stat");
        let Ok(stat) = std::fs::read_to_string(&path) else { continue };
        let name = stat.split_once('(').and_then(|(_, r)| r.rsplit_once(')')).map(|(n, _)| n).unwrap_or("");
        if name.starts_with(prefix) {
            total += parse_stat_cpu(&stat)?;
        }
    }
    Ok(total)
}

/// Busy CPU time of the whole machine (all cores, every process), from /proc/stat.
pub fn machine_busy() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpu = stat.lines().next().and_then(|l| l.strip_prefix("cpu ")).context("no cpu line in /proc/stat")?;
    let f: Vec<u64> = cpu.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal …: busy = all but idle, iowait and steal.
    let busy: u64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| f.get(i)).sum();
    Ok(Duration::from_millis(busy * 10))
}

/// Wait until the rest of the machine is quiet (other work below 0.15 of a
/// core over a second) so a run does not share the cores with, say, a
/// compiler; give up after `max` and say so.
pub fn wait_for_quiet(max: Duration) -> Result<f64> {
    let started = Instant::now();
    let mut said = false;
    loop {
        let a = machine_busy()?;
        std::thread::sleep(Duration::from_secs(1));
        let busy = (machine_busy()?.saturating_sub(a)).as_secs_f64();
        if busy < 0.15 {
            return Ok(busy);
        }
        if started.elapsed() > max {
            eprintln!("  the machine is still busy ({busy:.2} cores used by other work); measuring anyway");
            return Ok(busy);
        }
        if !said {
            eprintln!("  waiting for a quiet machine ({busy:.2} cores busy)…");
            said = true;
        }
    }
}

/// CPU time of every process whose command name is `name` (e.g. PostgreSQL's
/// backends, which work for the server under test in other processes).
pub fn processes_cpu_time(name: &str) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A process may exit between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if stat.split_once('(').and_then(|(_, r)| r.rsplit_once(')')).is_some_and(|(n, _)| n == name) {
            total += parse_stat_cpu(&stat)?;
        }
    }
    Ok(total)
}

fn stat_cpu(path: &str) -> Result<Duration> {
    parse_stat_cpu(&std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?)
}

fn parse_stat_cpu(stat: &str) -> Result<Duration> {
    // The command name (field 2) may hold spaces: fields resume after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).context("no utime/stime in stat");
    let ticks = tick(11)? + tick(12)?;
    // USER_HZ is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

/// A temporary folder for one measurement, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("kith-bench-{label}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copy every file of a flat folder (a data folder: kith.db, master.key).
pub fn copy_folder(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

//! Processes this machine runs for plat (Terraform, exec steps, a `plat` that was killed):
//! whether one still lives. Used to find work a killed plat left behind and adopt it.

/// Whether the process `pid` exists. `EPERM` (it exists, under another user) counts as alive.
#[cfg(unix)]
pub(crate) fn alive(pid: i32) -> bool {
    pid > 0
        && !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
}

/// Without a way to ask, every process is assumed alive: nothing is adopted.
#[cfg(not(unix))]
pub(crate) fn alive(_pid: i32) -> bool {
    true
}

/// Stops the process group `leader` leads, as a terminal would: SIGINT, or SIGKILL when `kill`.
/// ESRCH only means the group already exited.
#[cfg(unix)]
pub(crate) fn stop_group(leader: u32, kill: bool) {
    use nix::sys::signal::{Signal, killpg};
    let signal = if kill {
        Signal::SIGKILL
    } else {
        Signal::SIGINT
    };
    if let Ok(leader) = i32::try_from(leader) {
        let _ = killpg(nix::unistd::Pid::from_raw(leader), signal);
    }
}

/// Windows has no process groups to signal: the caller stops the child itself.
#[cfg(not(unix))]
pub(crate) fn stop_group(_leader: u32, _kill: bool) {}

/// The process id a pid file holds, if it holds one.
pub(crate) fn read_pid(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

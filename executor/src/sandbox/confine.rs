//! The confinement layers a sandbox child applies to itself before it runs untrusted code.

use super::{address_space_limit, cpu_seconds_limit};
use crate::{IsolationReport, Limits};
use landlock::{
    ABI, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus, Scope,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// The newest Landlock ABI this build knows; older kernels get what they support.
const LANDLOCK_TARGET: ABI = ABI::V10;

/// The layers a child applies before it knows its job: everything but the job's own limits.
pub(super) struct Early {
    /// The process's virtual size when it started confining itself (the base of the
    /// address-space limit).
    base_vm_bytes: u64,
    /// `RLIMIT_CORE` and `RLIMIT_FSIZE` are zero.
    fixed_rlimits: bool,
    /// What Landlock enforces.
    landlock: String,
    /// Whether the seccomp filters are in place.
    seccomp: bool,
}

/// Applies every layer that does not depend on the job: no new privileges, no core files, no
/// file writes, Landlock and seccomp. Must run while the process has a single thread: threads
/// created afterwards inherit every layer.
pub(super) fn confine_early() -> Early {
    let base_vm_bytes = current_vm_bytes();
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers and touches no memory.
    let no_new_privs = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0;
    let fixed_rlimits =
        set_rlimit(libc::RLIMIT_CORE, 0, 0) & set_rlimit(libc::RLIMIT_FSIZE, 0, 0);
    let landlock = apply_landlock();
    let seccomp = no_new_privs && apply_seccomp();
    Early {
        base_vm_bytes,
        fixed_rlimits,
        landlock,
        seccomp,
    }
}

/// Applies the job's own limits on top of `early` and reports every layer: the address space
/// (the memory budget plus the footprint the child started with) and the CPU seconds, counted
/// from now (see [`cpu_seconds_used`]).
pub(super) fn confine_job(early: &Early, limits: &Limits, clean_env: bool) -> IsolationReport {
    let cpu = cpu_seconds_used().saturating_add(cpu_seconds_limit(limits));
    let address_space = address_space_limit(limits, early.base_vm_bytes);
    let rlimits = early.fixed_rlimits
        & set_rlimit(libc::RLIMIT_CPU, cpu, cpu.saturating_add(1))
        & set_rlimit(libc::RLIMIT_AS, address_space, address_space);
    IsolationReport {
        landlock: early.landlock.clone(),
        seccomp: early.seccomp,
        rlimits,
        clean_env,
    }
}

/// The whole CPU seconds (user plus system) this process has used: the run's own CPU limit
/// starts there, so a warm child's interpreter build is not charged to the run (to the
/// second, the granularity of `RLIMIT_CPU`).
fn cpu_seconds_used() -> u64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the local we pass.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let micros = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
    };
    (micros(usage.ru_utime) + micros(usage.ru_stime)) / 1_000_000
}

/// The type `setrlimit` takes its resource as (it differs between C libraries).
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn set_rlimit(resource: Resource, soft: u64, hard: u64) -> bool {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass by reference.
    unsafe { libc::setrlimit(resource, &limit) == 0 }
}

/// The process's current virtual size in bytes, from `/proc/self/statm` (read before Landlock
/// closes the filesystem). Zero when unknown.
fn current_vm_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    // SAFETY: sysconf takes an integer constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.saturating_mul(u64::try_from(page).unwrap_or(4096))
}

/// Restricts all filesystem access, TCP, abstract UNIX sockets and signals, as far as the
/// kernel's Landlock ABI allows, and describes the result.
fn apply_landlock() -> String {
    let result = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_TARGET))
        .and_then(|r| r.handle_access(AccessNet::from_all(LANDLOCK_TARGET)))
        .and_then(|r| r.scope(Scope::from_all(LANDLOCK_TARGET)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    match result {
        Err(error) => format!("not_enforced: {error}"),
        Ok(status) => {
            let abi = match status.landlock {
                LandlockStatus::Available { effective_abi, .. } => effective_abi as i32,
                LandlockStatus::NotEnabled => {
                    return "not_enforced: Landlock is disabled in this kernel".into();
                }
                LandlockStatus::NotImplemented => {
                    return "not_enforced: this kernel has no Landlock".into();
                }
            };
            match status.ruleset {
                RulesetStatus::FullyEnforced => format!("fully_enforced (ABI {abi})"),
                RulesetStatus::PartiallyEnforced => format!(
                    "partially_enforced (ABI {abi}; rights of ABI {} are missing)",
                    LANDLOCK_TARGET as i32
                ),
                RulesetStatus::NotEnforced => {
                    format!("not_enforced: the kernel's Landlock ABI {abi} enforced nothing")
                }
            }
        }
    }
}

/// System calls a sandbox child never needs, refused with `EPERM`.
const DENIED_SYSCALLS: &[libc::c_long] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_fork,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_vfork,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_io_uring_setup,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_memfd_create,
];

fn target_arch() -> Option<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).ok()
}

/// The filter refusing [`DENIED_SYSCALLS`] and `clone` without `CLONE_THREAD` with `EPERM`.
fn deny_filter(arch: TargetArch) -> Option<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED_SYSCALLS
        .iter()
        .map(|&nr| (i64::from(nr), Vec::new()))
        .collect();
    let not_a_thread = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
        0,
    )
    .ok()?;
    rules.insert(
        i64::from(libc::SYS_clone),
        vec![SeccompRule::new(vec![not_a_thread]).ok()?],
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .ok()?;
    filter.try_into().ok()
}

/// The filter making `clone3` answer `ENOSYS`: its flags live in memory a filter cannot read,
/// so the C library is made to fall back to `clone`, whose flags the deny filter checks.
fn clone3_filter(arch: TargetArch) -> Option<BpfProgram> {
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [(i64::from(libc::SYS_clone3), Vec::new())]
        .into_iter()
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .ok()?;
    filter.try_into().ok()
}

/// Installs both filters on every thread. Returns whether both are in place.
fn apply_seccomp() -> bool {
    let Some(arch) = target_arch() else {
        return false;
    };
    let (Some(deny), Some(clone3)) = (deny_filter(arch), clone3_filter(arch)) else {
        return false;
    };
    seccompiler::apply_filter_all_threads(&clone3).is_ok()
        && seccompiler::apply_filter_all_threads(&deny).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_this_architecture() {
        let arch = target_arch().expect("supported architecture");
        assert!(deny_filter(arch).is_some_and(|p| p.len() > DENIED_SYSCALLS.len()));
        assert!(clone3_filter(arch).is_some_and(|p| !p.is_empty()));
    }

    #[test]
    fn the_current_size_is_known_on_linux() {
        assert!(current_vm_bytes() > 1024 * 1024);
    }
}

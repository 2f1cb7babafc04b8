/* denied HOSTNAME: the calls the sentry refuses (DESIGN.md invariants 1, 3, 4) fail with the
 * table's errno, and CLONE_UNTRACED does not take effect. Meant to run under the sentry with
 * --hostname=HOSTNAME: a task that escaped tracing would see the host's nodename instead.
 * Arguments are chosen so that, should a call reach the host by mistake, it does no harm
 * (invalid flags, bad fds, names that do not exist). */
#include "prog.h"
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static const char *expected_host;

/* A raw syscall: the kernel's return value, -errno on failure (no errno, no TLS). */
static long raw(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static void expect(const char *what, long ret, int err)
{
    check(ret == -err, "%s -> %ld (want -%s)", what, ret, strerrorname_np(err));
}

/* What a task reports about being traced: 0 when both probes say "traced by the sentry". */
static int probe_traced(void)
{
    struct utsname u;
    int bad = 0;
    if (raw(SYS_uname, (long)&u, 0, 0, 0, 0, 0) != 0 || strcmp(u.nodename, expected_host) != 0)
        bad |= 1;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    long fd = raw(SYS_io_uring_setup, 4, (long)&params, 0, 0, 0, 0);
    if (fd != -ENOSYS)
        bad |= 2;
    if (fd >= 0)
        raw(SYS_close, fd, 0, 0, 0, 0, 0);
    return bad;
}

static volatile int thread_result = -1;

static int untraced_thread(void *arg)
{
    (void)arg;
    thread_result = probe_traced();
    return 0;
}

static int untraced_process(void *arg)
{
    (void)arg;
    return probe_traced();
}

static void clone_untraced(void)
{
    /* A process, through glibc's clone(), which issues clone(2) itself. */
    size_t stack_size = 256 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    must(stack != MAP_FAILED);
    pid_t pid = clone(untraced_process, stack + stack_size, CLONE_UNTRACED | SIGCHLD, NULL);
    must(pid > 0);
    int status = 0;
    must(waitpid(pid, &status, 0) == pid);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "clone(CLONE_UNTRACED) process is still traced (probe %d)", WEXITSTATUS(status));

    /* A thread of this process, same flags as pthread_create's plus CLONE_UNTRACED. */
    static volatile pid_t ctid = 1;
    ctid = 1;
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                CLONE_CHILD_CLEARTID | CLONE_UNTRACED;
    pid_t tid = clone(untraced_thread, stack + stack_size, flags, NULL, NULL, NULL, &ctid);
    must(tid > 0);
    /* The kernel clears ctid and wakes the futex when the thread exits. */
    for (;;) {
        pid_t v = ctid;
        if (v == 0)
            break;
        syscall(SYS_futex, &ctid, FUTEX_WAIT, v, NULL, NULL, 0);
    }
    check(thread_result == 0, "clone(CLONE_UNTRACED) thread is still traced (probe %d)",
          thread_result);

    /* vfork-style flags, too. */
    pid = clone(untraced_process, stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_UNTRACED | SIGCHLD,
                NULL);
    must(pid > 0);
    must(waitpid(pid, &status, 0) == pid);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "clone(CLONE_VFORK|CLONE_UNTRACED) child is still traced (probe %d)",
          WEXITSTATUS(status));
    munmap(stack, stack_size);
}

static void clone3_denied(unsigned long long flags, const char *what)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    long r = raw(SYS_clone3, (long)&args, sizeof args, 0, 0, 0, 0);
    if (r == 0)
        raw(SYS_exit, 0, 0, 0, 0, 0, 0); /* a child the sentry should not have let happen */
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    expect(what, r, ENOSYS);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: denied HOSTNAME\n");
        return 2;
    }
    expected_host = argv[1];
    struct utsname u;
    must(uname(&u) == 0);
    check(strcmp(u.nodename, expected_host) == 0, "traced: nodename %s", u.nodename);

    /* Foreign ABIs: int 0x80 (i386 getpid is 20) and an x32 number (getpid | X32 bit). */
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "rcx", "r8", "r9", "r10", "r11", "memory");
    expect("int 0x80 getpid", (long)(int)r, ENOSYS);
    expect("x32 getpid", raw(39 | 0x40000000L, 0, 0, 0, 0, 0, 0), ENOSYS);

    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    expect("io_uring_setup", raw(SYS_io_uring_setup, 4, (long)&params, 0, 0, 0, 0), ENOSYS);
    expect("io_uring_enter", raw(SYS_io_uring_enter, -1, 0, 0, 0, 0, 0), ENOSYS);
    expect("io_uring_register", raw(SYS_io_uring_register, -1, 0, 0, 0, 0, 0), ENOSYS);

    expect("ptrace(PTRACE_TRACEME)", raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0), EPERM);
    expect("ptrace(PTRACE_ATTACH, parent)",
           raw(SYS_ptrace, PTRACE_ATTACH, getppid(), 0, 0, 0, 0), EPERM);

    char src[8] = "secret", dst[8] = {0};
    struct iovec local = {dst, sizeof dst}, remote = {src, sizeof src};
    expect("process_vm_readv",
           raw(SYS_process_vm_readv, getpid(), (long)&local, 1, (long)&remote, 1, 0), EPERM);
    expect("process_vm_writev",
           raw(SYS_process_vm_writev, getpid(), (long)&remote, 1, (long)&local, 1, 0), EPERM);

    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    expect("bpf(BPF_MAP_CREATE)", raw(SYS_bpf, BPF_MAP_CREATE, (long)&attr, sizeof attr, 0, 0, 0),
           EPERM);

    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.size = sizeof pe;
    pe.type = PERF_TYPE_SOFTWARE;
    pe.config = PERF_COUNT_SW_TASK_CLOCK;
    pe.disabled = 1;
    expect("perf_event_open", raw(SYS_perf_event_open, (long)&pe, 0, -1, -1, 0, 0), EACCES);

    expect("kexec_load", raw(SYS_kexec_load, 0, 0, 0, 0xdead0000L, 0, 0), EPERM);
    expect("kexec_file_load", raw(SYS_kexec_file_load, -1, -1, 0, 0, 0xdead0000L, 0), EPERM);
    expect("init_module", raw(SYS_init_module, 0, 0, (long)"", 0, 0, 0), EPERM);
    expect("finit_module", raw(SYS_finit_module, -1, (long)"", 0, 0, 0, 0), EPERM);
    expect("delete_module", raw(SYS_delete_module, (long)"sentry_no_such_module", O_NONBLOCK, 0, 0, 0, 0),
           EPERM);

    struct {
        struct file_handle fh;
        unsigned char bytes[MAX_HANDLE_SZ];
    } handle;
    memset(&handle, 0, sizeof handle);
    handle.fh.handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    expect("name_to_handle_at",
           raw(SYS_name_to_handle_at, AT_FDCWD, (long)"/", (long)&handle, (long)&mount_id, 0, 0),
           EPERM);
    expect("open_by_handle_at",
           raw(SYS_open_by_handle_at, AT_FDCWD, (long)&handle, O_RDONLY, 0, 0, 0), EPERM);

    clone3_denied(0, "clone3");
    clone3_denied(CLONE_UNTRACED, "clone3(CLONE_UNTRACED)");
    clone_untraced();

    /* Seccomp filters of the sandbox's own: refused with EINVAL (an allow-all filter, after
     * no_new_privs, which natively any user could install). */
    must(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = allow};
    expect("seccomp(SECCOMP_SET_MODE_FILTER)",
           raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0), EINVAL);
    expect("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)",
           raw(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (long)&prog, 0, 0, 0), EINVAL);
    /* Strict mode last: had it been installed, the next call other than read/write/exit
     * would kill this process, and the missing "denied done" line would show it. */
    expect("seccomp(SECCOMP_SET_MODE_STRICT)",
           raw(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0, 0, 0, 0), EINVAL);
    check(getpid() > 0, "calls still work after the refusals");
    printf("denied done\n");
    return finish();
}

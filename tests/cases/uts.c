// conformance: ns
/* UTS namespace: uname(2), sethostname(2), setdomainname(2). Run natively inside a fresh UTS
 * namespace (unshare); the sentry must give the same private hostname. */
#include "tap.h"
#include <limits.h>
#include <sys/utsname.h>

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct utsname u;
    T_EQ(uname(&u), 0, "uname: fills the struct");
    OK(strcmp(u.sysname, "Linux") == 0, "uname: sysname Linux");
    OK(strcmp(u.machine, "x86_64") == 0, "uname: machine x86_64");
    T_ERR(uname(BADPTR), EFAULT, "uname: bad pointer -> EFAULT");
    /* /proc/sys files that programs read for limits and settings. */
    static const char *const sysfiles[] = {
        "kernel/pid_max", "kernel/tainted", "kernel/core_pattern", "kernel/ngroups_max",
        "fs/pipe-max-size", "fs/pipe-user-pages-soft", "fs/nr_open", "net/core/somaxconn",
        "net/ipv4/ip_local_port_range", "net/ipv4/conf/lo/forwarding",
        "vm/overcommit_memory", "vm/max_map_count", "kernel/random/uuid",
    };
    for (size_t i = 0; i < sizeof sysfiles / sizeof sysfiles[0]; i++) {
        char path[128], value[128] = {0};
        snprintf(path, sizeof path, "/proc/sys/%s", sysfiles[i]);
        int sfd = open(path, O_RDONLY);
        ssize_t got = sfd >= 0 ? read(sfd, value, sizeof value - 1) : -1;
        OK(got > 1 && value[got - 1] == '\n', "%s: readable, one line", path);
        if (sfd >= 0)
            close(sfd);
    }
    /* personality(UNAME26): the release as old programs expect it, "2.6.<60+minor>..." */
    char release[sizeof u.release];
    strcpy(release, u.release);
    T_EQ(syscall(SYS_personality, 0x0020000), 0, "personality(UNAME26): accepted");
    uname(&u);
    unsigned major = 0, minor = 0;
    sscanf(release, "%u.%u", &major, &minor);
    char want[80];
    snprintf(want, sizeof want, "2.6.%u", 60 + minor);
    OK(strncmp(u.release, want, strlen(want)) == 0, "uname under UNAME26: release 2.6.(60+minor)");
    T_EQ(syscall(SYS_personality, 0), 0x0020000, "personality(PER_LINUX): returns UNAME26");
    uname(&u);
    OK(strcmp(u.release, release) == 0, "uname after PER_LINUX: the release again");
    T_EQ(sethostname("conformance-host", 16), 0, "sethostname: in the private namespace");
    uname(&u);
    OK(strcmp(u.nodename, "conformance-host") == 0, "sethostname: uname sees the new name");
    char hn[128];
    T_EQ(gethostname(hn, sizeof hn), 0, "sethostname: gethostname(3) agrees");
    int fd = open("/proc/sys/kernel/hostname", O_RDONLY);
    char pb[128] = {0};
    OK(fd >= 0 && read(fd, pb, sizeof pb) > 0 && strcmp(pb, "conformance-host\n") == 0,
       "sethostname: /proc/sys/kernel/hostname agrees");
    char big[HOST_NAME_MAX + 2];
    memset(big, 'h', sizeof big);
    T_ERR(sethostname(big, sizeof big), EINVAL, "sethostname: longer than 64 -> EINVAL");
    T_ERR(sethostname(BADPTR, 5), EFAULT, "sethostname: bad pointer -> EFAULT");
    T_ERR(sethostname("x", -1), EINVAL, "sethostname: negative length -> EINVAL");
    T_EQ(sethostname("", 0), 0, "sethostname: empty name allowed");
    uname(&u);
    OK(u.nodename[0] == 0, "sethostname: uname shows the empty name");
    T_EQ(setdomainname("conformance.domain", 18), 0, "setdomainname: in the private namespace");
    uname(&u);
    OK(strcmp(u.domainname, "conformance.domain") == 0, "setdomainname: uname sees it");
    T_ERR(setdomainname(big, sizeof big), EINVAL, "setdomainname: too long -> EINVAL");
    T_ERR(setdomainname(BADPTR, 3), EFAULT, "setdomainname: bad pointer -> EFAULT");
    /* A child shares the namespace: it sees the parent's change and its own is seen back. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(sethostname("child-set", 9) == 0 ? 0 : 1);
    int st;
    waitpid(c, &st, 0);
    uname(&u);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(u.nodename, "child-set") == 0,
       "sethostname: a child's change is visible to the parent");
    /* Unprivileged: EPERM (sethostname(2) ERRORS). */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(2);
        _exit(sethostname("x", 1) == -1 && errno == EPERM ? 0 : 1);
    }
    waitpid(c, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sethostname: unprivileged -> EPERM");
    return tap_done();
}

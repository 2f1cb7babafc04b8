/* Credentials: getuid(2) family, setuid(2)/setgid/setreuid/setregid/setresuid/setresgid,
 * getgroups(2)/setgroups, setfsuid(2)/setfsgid, capget(2)/capset. Changes happen in children. */
#include "tap.h"
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>

static int run(int (*fn)(void *))
{
    int st = tap_in_child(fn, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static int drop_all(void *a)
{
    (void)a;
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
        return 1;
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    if (r != 65534 || e != 65534 || s != 65534)
        return 2;
    if (setuid(0) == 0 || errno != EPERM)
        return 3;
    /* Still an ordinary user of the filesystem: world-readable files open, root's don't for
     * writing (a rootfs need not have /proc, so no /proc file here). */
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd < 0)
        return 4;
    close(fd);
    if (open("/etc/passwd", O_WRONLY) != -1 || errno != EACCES)
        return 5;
    return 0;
}

static int reuid(void *a)
{
    (void)a;
    if (setresuid(1000, 2000, 0))
        return 1;
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    if (r != 1000 || e != 2000 || s != 0 || getuid() != 1000 || geteuid() != 2000)
        return 2;
    if (setreuid(-1, 0)) /* saved uid 0 allows going back */
        return 3;
    if (geteuid() != 0)
        return 4;
    return 0;
}

static int gids(void *a)
{
    (void)a;
    if (setresgid(10, 20, 30))
        return 1;
    gid_t r, e, s;
    getresgid(&r, &e, &s);
    if (r != 10 || e != 20 || s != 30 || getgid() != 10 || getegid() != 20)
        return 2;
    if (setregid(40, 50) || getgid() != 40 || getegid() != 50)
        return 3;
    if (setgid(60) || getgid() != 60 || getegid() != 60)
        return 4;
    return 0;
}

static int nonroot_eperm(void *a)
{
    (void)a;
    setgroups(0, NULL);
    if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
        return 1;
    int bits = 0;
    if (setgid(0) == -1 && errno == EPERM)
        bits |= 1;
    if (setgroups(0, NULL) == -1 && errno == EPERM)
        bits |= 2;
    if (setresuid(0, 0, 0) == -1 && errno == EPERM)
        bits |= 4;
    /* A root-owned file of the work dir (not "/": a sandbox that wrongly allowed it would
     * give the rootfs away). */
    if (chown("rootowned", 65534, 65534) == -1 && errno == EPERM)
        bits |= 8;
    return bits == 15 ? 0 : 10 + bits;
}

static int fsids(void *a)
{
    (void)a;
    int prev = setfsuid(1234);
    if (prev != 0)
        return 1;
    if (setfsuid(-1) != 1234)
        return 2;
    if (setfsgid(4321) != 0 || setfsgid(-1) != 4321)
        return 3;
    return 0;
}

static int groups_child(void *a)
{
    (void)a;
    gid_t g[3] = {5, 6, 7}, out[8];
    if (setgroups(3, g))
        return 1;
    int n = getgroups(8, out);
    if (n != 3 || out[0] != 5 || out[2] != 7)
        return 2;
    if (getgroups(0, NULL) != 3)
        return 3;
    if (getgroups(1, out) != -1 || errno != EINVAL)
        return 4;
    return 0;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    tap_write_file("rootowned", "r");
    chmod(".", 0755);
    T_EQ(getuid(), 0, "getuid: 0 (root)");
    T_EQ(geteuid(), 0, "geteuid: 0");
    T_EQ(getgid(), 0, "getgid: 0");
    T_EQ(getegid(), 0, "getegid: 0");
    uid_t r, e, s;
    T_EQ(getresuid(&r, &e, &s), 0, "getresuid: returns 0");
    OK(r == 0 && e == 0 && s == 0, "getresuid: all 0");
    T_ERR(getresuid(BADPTR, &e, &s), EFAULT, "getresuid: bad pointer -> EFAULT");
    gid_t gr, ge, gs;
    T_EQ(getresgid(&gr, &ge, &gs), 0, "getresgid: returns 0");
    T_ERR(getresgid(&gr, BADPTR, &gs), EFAULT, "getresgid: bad pointer -> EFAULT");
    T_EQ(run(drop_all), 0, "setuid: drop to 65534 for good (setgid, setgroups too)");
    T_EQ(run(reuid), 0, "setresuid: r/e/s set; setreuid back through the saved uid");
    T_EQ(run(gids), 0, "setresgid: r/e/s; setregid; setgid");
    T_EQ(run(nonroot_eperm), 0, "setgid: unprivileged setgid/setgroups/setresuid/chown -> EPERM");
    T_EQ(run(fsids), 0, "setfsuid: returns the previous fsuid; setfsgid likewise");
    T_EQ(run(groups_child), 0, "setgroups: three groups; getgroups size 0 and too small -> EINVAL");
    T_ERR(setgroups(1 << 20, NULL), EINVAL, "setgroups: size > NGROUPS_MAX -> EINVAL");
    T_ERR(getgroups(-1, NULL), EINVAL, "getgroups: negative size -> EINVAL");

    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    T_EQ(syscall(SYS_capget, &h, d), 0, "capget: own capabilities");
    OK(d[0].effective & (1u << CAP_SYS_ADMIN), "capget: root has CAP_SYS_ADMIN effective");
    T_EQ(syscall(SYS_capset, &h, d), 0, "capset: same set again");
    struct __user_cap_header_struct hb = {.version = 0x12345678, .pid = 0};
    T_ERR(syscall(SYS_capget, &hb, d), EINVAL, "capget: bad version -> EINVAL");
    OK(hb.version == _LINUX_CAPABILITY_VERSION_3, "capget: bad version is answered with the preferred one");
    T_ERR(syscall(SYS_capget, BADPTR, d), EFAULT, "capget: bad header -> EFAULT");
    struct __user_cap_data_struct more[2] = {d[0], d[1]};
    more[0].effective |= (1u << CAP_CHOWN);
    more[0].permitted &= ~(1u << CAP_CHOWN);
    T_ERR(syscall(SYS_capset, &h, more), EPERM, "capset: effective not in permitted -> EPERM");
    return tap_done();
}

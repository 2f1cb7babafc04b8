// conformance: ns
/* Permission checks of an ordinary user (nobody) on files root made: chdir, fchdir and
 * chroot need search on the directory; execve needs execute on the program (a script too);
 * reading a directory's entries, getxattr of user.* and inotify_add_watch need read;
 * statfs needs search on the way; link follows protected_hardlinks; rename over a name in
 * a sticky directory follows the sticky rule, and a directory that changes parent needs
 * write on itself; user.* on a sticky directory is its owner's; another user's process's
 * environ, maps, fds and cwd in /proc are out of reach, and it is signalled, rescheduled
 * and limited only by its owner (SIGCONT within the session aside); mounts and namespaces
 * are CAP_SYS_ADMIN's. Each call runs in a child that became nobody; the child's exit code
 * is the call's errno (0 on success). */
#include "tap.h"
#include <grp.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#define RENAME_EXCHANGE_FLAG 2

static int g_priv_fd = -1;

/* The errno of `fn` run as nobody (0 when it succeeded), 255 if the ids would not drop. */
static int child_errno(void *fn)
{
    if (tap_become_nobody())
        return 255;
    errno = 0;
    long rc = ((long (*)(void))fn)();
    return rc < 0 ? errno : 0;
}

static int as_nobody(long (*fn)(void))
{
    return tap_child_code(tap_in_child(child_errno, (void *)fn));
}

static long chdir_priv(void) { return chdir("priv"); }
static long chdir_noexec(void) { return chdir("noexec"); }
static long chdir_open(void) { return chdir("open"); }
static long chdir_priv_missing(void) { return chdir("priv/missing"); }
static long fchdir_priv(void) { return fchdir(g_priv_fd); }
static long chroot_priv(void) { return chroot("priv"); }
static long chroot_open(void) { return chroot("open"); }

static long run(const char *path)
{
    pid_t p = fork();
    if (p == 0) {
        execl(path, path, (char *)NULL);
        _exit(errno);
    }
    int st;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st))
        return -1;
    errno = WEXITSTATUS(st);
    return errno ? -1 : 0;
}
static long exec_private_script(void) { return run("./private.sh"); }
static long exec_public_script(void) { return run("./public.sh"); }
static long exec_private_elf(void) { return run("./private.elf"); }

static long getxattr_secret(void)
{
    char v[8];
    return getxattr("secret", "user.k", v, sizeof v);
}
static long getxattr_readable(void)
{
    char v[8];
    return getxattr("readable", "user.k", v, sizeof v);
}
static long inotify_secret(void)
{
    int in = inotify_init1(IN_CLOEXEC);
    return in < 0 ? -1 : inotify_add_watch(in, "secret", IN_ALL_EVENTS);
}
static long inotify_readable(void)
{
    int in = inotify_init1(IN_CLOEXEC);
    return in < 0 ? -1 : inotify_add_watch(in, "readable", IN_ALL_EVENTS);
}
static long statfs_in_priv(void)
{
    struct statfs sf;
    return statfs("priv/sub", &sf);
}
static long link_secret(void) { return link("secret", "open/l1"); }
static long link_readable(void) { return link("readable", "open/l2"); }
static long link_shared(void) { return link("shared", "open/l3"); }
static long link_readable_by_fd(void)
{
    int fd = open("readable", O_RDONLY);
    return fd < 0 ? -1 : linkat(fd, "", AT_FDCWD, "open/l4", AT_EMPTY_PATH);
}
static long link_readable_through_proc(void)
{
    char path[64];
    int fd = open("readable", O_RDONLY);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return fd < 0 ? -1 : linkat(AT_FDCWD, path, AT_FDCWD, "open/l5", AT_SYMLINK_FOLLOW);
}
static long rename_over_sticky(void) { return rename("open/mine", "sticky/roots"); }
static long exchange_with_sticky(void)
{
    return syscall(SYS_renameat2, AT_FDCWD, "open/mine", AT_FDCWD, "sticky/roots",
                   RENAME_EXCHANGE_FLAG);
}
static long rename_dir_across(void) { return rename("open/rootdir", "open2/rootdir"); }
static long rename_dir_in_place(void) { return rename("open/rootdir2", "open/renamed"); }
static long exchange_dir_across(void)
{
    return syscall(SYS_renameat2, AT_FDCWD, "open/mine", AT_FDCWD, "open2/rootdir3",
                   RENAME_EXCHANGE_FLAG);
}
static long list_write_search_dir(void) { return open("wx", O_RDONLY | O_DIRECTORY); }
static long open_in_write_search_dir(void) { return open("wx/f", O_RDONLY); }
static char g_parent_proc[64];
static int g_parent_pipe = -1;
static long proc_of_parent(const char *entry, int flags)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_parent_proc, entry);
    return open(path, flags);
}
static long parent_environ(void) { return proc_of_parent("environ", O_RDONLY); }
static long parent_maps(void) { return proc_of_parent("maps", O_RDONLY); }
static long parent_stat(void) { return proc_of_parent("stat", O_RDONLY); }
static long parent_fd(void)
{
    char entry[32];
    snprintf(entry, sizeof entry, "fd/%d", g_parent_pipe);
    return proc_of_parent(entry, O_RDONLY | O_NONBLOCK);
}
static long parent_cwd(void)
{
    char path[128], target[256];
    snprintf(path, sizeof path, "%s/cwd", g_parent_proc);
    return readlink(path, target, sizeof target);
}
static pid_t g_parent;
static long kill_parent(void) { return kill(g_parent, 0); }
static long continue_parent(void) { return kill(g_parent, SIGCONT); }
static long kill_own_group(void) { return kill(0, 0); }
static long tgkill_parent(void) { return syscall(SYS_tgkill, g_parent, g_parent, 0); }
static long pidfd_signal_parent(void)
{
    int pidfd = syscall(SYS_pidfd_open, g_parent, 0);
    return pidfd < 0 ? -1 : syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
}
static long renice_parent(void) { return setpriority(PRIO_PROCESS, g_parent, 0); }
static long renice_own_group(void) { return setpriority(PRIO_PGRP, 0, 0); }
static long ioprio_own_group(void)
{
    /* IOPRIO_WHO_PGRP, best-effort class, level 4. */
    return syscall(SYS_ioprio_set, 2, 0, (2 << 13) | 4);
}
static long pin_parent(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    return sched_setaffinity(g_parent, sizeof set, &set);
}
static long limits_of_parent(void)
{
    struct rlimit old;
    return prlimit(g_parent, RLIMIT_NOFILE, NULL, &old);
}
static long robust_list_of_parent(void)
{
    void *head;
    size_t len;
    return syscall(SYS_get_robust_list, g_parent, &head, &len);
}
static long mount_tmpfs(void) { return mount("none", "open", "tmpfs", 0, NULL); }
static long umount_dir(void) { return umount2("open", 0); }
static long unshare_mounts(void) { return unshare(CLONE_NEWNS); }
static long unshare_names(void) { return unshare(CLONE_NEWUTS); }
static long enter_own_uts(void)
{
    int ns = open("/proc/self/ns/uts", O_RDONLY);
    return ns < 0 ? -1 : setns(ns, 0);
}
static long write_hostname(void) { return open("/proc/sys/kernel/hostname", O_WRONLY); }
static pid_t g_holder;
static long sigio_to_holder(void)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fcntl(p[0], F_SETOWN, g_holder);
    fcntl(p[0], F_SETSIG, SIGTERM);
    fcntl(p[0], F_SETFL, O_ASYNC);
    write(p[1], "x", 1);
    return 0;
}
static long setxattr_sticky_dir(void) { return setxattr("sticky", "user.k", "v", 1, 0); }
static long setxattr_open_dir(void) { return setxattr("open", "user.k", "v", 1, 0); }

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    umask(0);
    chmod(".", 0755);
    mkdir("priv", 0700);
    mkdir("priv/sub", 0755);
    mkdir("noexec", 0644);
    mkdir("wx", 0311);
    tap_write_file("wx/f", "f");
    mkdir("open", 0777);
    mkdir("open2", 0777);
    mkdir("sticky", 01777);
    mkdir("open/rootdir", 0755);
    mkdir("open/rootdir2", 0755);
    mkdir("open2/rootdir3", 0755);
    tap_write_file("secret", "s");
    chmod("secret", 0600);
    tap_write_file("readable", "r");
    tap_write_file("shared", "w");
    chmod("shared", 0666);
    tap_write_file("sticky/roots", "r");
    chmod("sticky/roots", 0666);
    tap_write_file("private.sh", "#!/bin/sh\nexit 0\n");
    chmod("private.sh", 0700);
    tap_write_file("public.sh", "#!/bin/sh\nexit 0\n");
    chmod("public.sh", 0755);
    int self = open("/proc/self/exe", O_RDONLY);
    int copy = open("private.elf", O_WRONLY | O_CREAT | O_TRUNC, 0700);
    char buf[65536];
    ssize_t n;
    while (self >= 0 && copy >= 0 && (n = read(self, buf, sizeof buf)) > 0)
        write(copy, buf, n);
    close(self);
    close(copy);
    int xattrs = setxattr("secret", "user.k", "v", 1, 0) == 0 &&
                 setxattr("readable", "user.k", "v", 1, 0) == 0;
    g_priv_fd = open("priv", O_RDONLY | O_DIRECTORY);

    T_EQ(as_nobody(chdir_priv), EACCES, "chdir: a 0700 dir of root's, as nobody -> EACCES");
    T_EQ(as_nobody(chdir_noexec), EACCES, "chdir: a 0644 dir, as nobody -> EACCES");
    T_EQ(as_nobody(chdir_open), 0, "chdir: a 0777 dir, as nobody");
    T_EQ(as_nobody(chdir_priv_missing), EACCES,
         "chdir: a missing name in a dir nobody cannot search -> EACCES, not ENOENT");
    T_EQ(as_nobody(list_write_search_dir), EACCES,
         "open: a 0311 dir for reading its entries, as nobody -> EACCES");
    T_EQ(as_nobody(open_in_write_search_dir), 0, "open: a 0644 file in a 0311 dir, as nobody");
    T_EQ(as_nobody(fchdir_priv), EACCES, "fchdir: a 0700 dir of root's, as nobody -> EACCES");
    T_EQ(as_nobody(chroot_priv), EACCES,
         "chroot: a 0700 dir, as nobody -> EACCES (before the capability's EPERM)");
    T_EQ(as_nobody(chroot_open), EPERM, "chroot: a 0777 dir, as nobody -> EPERM");

    T_EQ(as_nobody(exec_private_script), EACCES, "execve: a 0700 script of root's, as nobody -> EACCES");
    T_EQ(as_nobody(exec_public_script), 0, "execve: a 0755 script, as nobody");
    T_EQ(as_nobody(exec_private_elf), EACCES, "execve: a 0700 program of root's, as nobody -> EACCES");

    OK(xattrs, "setxattr: user.* on root's files, as root");
    T_EQ(as_nobody(getxattr_secret), EACCES, "getxattr: user.* of a 0600 file, as nobody -> EACCES");
    T_EQ(as_nobody(getxattr_readable), 0, "getxattr: user.* of a 0644 file, as nobody");
    T_EQ(as_nobody(setxattr_sticky_dir), EPERM,
         "setxattr: user.* on a sticky 01777 dir of root's, as nobody -> EPERM");
    T_EQ(as_nobody(setxattr_open_dir), 0, "setxattr: user.* on a 0777 dir, as nobody");
    T_EQ(as_nobody(inotify_secret), EACCES,
         "inotify_add_watch: a 0600 file of root's, as nobody -> EACCES");
    T_EQ(as_nobody(inotify_readable), 0, "inotify_add_watch: a 0644 file, as nobody");
    T_EQ(as_nobody(statfs_in_priv), EACCES, "statfs: below a 0700 dir, as nobody -> EACCES");

    T_EQ(as_nobody(link_secret), EPERM, "link: root's 0600 file, as nobody -> EPERM (protected_hardlinks)");
    T_EQ(as_nobody(link_readable), EPERM, "link: root's 0644 file, as nobody -> EPERM (protected_hardlinks)");
    T_EQ(as_nobody(link_shared), 0, "link: root's 0666 file, as nobody");
    T_EQ(as_nobody(link_readable_by_fd), EPERM,
         "linkat: AT_EMPTY_PATH of root's 0644 file, as nobody -> EPERM (protected_hardlinks)");
    T_EQ(as_nobody(link_readable_through_proc), EPERM,
         "linkat: /proc/self/fd/N of root's 0644 file, as nobody -> EPERM (protected_hardlinks)");

    tap_write_file("open/mine", "m");
    chown("open/mine", 65534, 65534);
    T_EQ(as_nobody(rename_over_sticky), EPERM,
         "rename: over root's file in a sticky dir, as nobody -> EPERM");
    T_EQ(as_nobody(exchange_with_sticky), EPERM,
         "renameat2: RENAME_EXCHANGE with root's file in a sticky dir, as nobody -> EPERM");
    T_EQ(as_nobody(rename_dir_across), EACCES,
         "rename: root's 0755 dir to another parent, as nobody -> EACCES");
    T_EQ(as_nobody(rename_dir_in_place), 0, "rename: root's 0755 dir within its parent, as nobody");
    T_EQ(as_nobody(exchange_dir_across), EACCES,
         "renameat2: RENAME_EXCHANGE moving root's 0755 dir to another parent, as nobody -> EACCES");

    /* Another user's process: its environment, layout, fds and cwd are its own. */
    int pipe_fds[2];
    pipe(pipe_fds);
    g_parent_pipe = pipe_fds[0];
    snprintf(g_parent_proc, sizeof g_parent_proc, "/proc/%d", (int)getpid());
    T_EQ(as_nobody(parent_environ), EACCES, "open: /proc/<root's pid>/environ, as nobody -> EACCES");
    T_EQ(as_nobody(parent_maps), EACCES, "open: /proc/<root's pid>/maps, as nobody -> EACCES");
    T_EQ(as_nobody(parent_fd), EACCES, "open: /proc/<root's pid>/fd/N (a pipe), as nobody -> EACCES");
    T_EQ(as_nobody(parent_cwd), EACCES, "readlink: /proc/<root's pid>/cwd, as nobody -> EACCES");
    T_EQ(as_nobody(parent_stat), 0, "open: /proc/<root's pid>/stat, as nobody");
    close(pipe_fds[0]);
    close(pipe_fds[1]);

    /* Another user's process: signals and changes are its owner's. */
    g_parent = getpid();
    T_EQ(as_nobody(kill_parent), EPERM, "kill: root's process, as nobody -> EPERM");
    T_EQ(as_nobody(continue_parent), 0, "kill: SIGCONT to root's process in the session, as nobody");
    T_EQ(as_nobody(kill_own_group), 0, "kill: the own group with root's process in it, as nobody");
    T_EQ(as_nobody(tgkill_parent), EPERM, "tgkill: root's process, as nobody -> EPERM");
    T_EQ(as_nobody(pidfd_signal_parent), EPERM, "pidfd_send_signal: root's process, as nobody -> EPERM");
    T_EQ(as_nobody(renice_parent), EPERM, "setpriority: root's process, as nobody -> EPERM");
    T_EQ(as_nobody(renice_own_group), EPERM,
         "setpriority: the own group with root's process in it, as nobody -> EPERM");
    T_EQ(as_nobody(ioprio_own_group), EPERM,
         "ioprio_set: the own group with root's process in it, as nobody -> EPERM");
    T_EQ(as_nobody(pin_parent), EPERM, "sched_setaffinity: root's process, as nobody -> EPERM");
    T_EQ(as_nobody(limits_of_parent), EPERM, "prlimit64: root's process's limits, as nobody -> EPERM");
    T_EQ(as_nobody(robust_list_of_parent), EPERM, "get_robust_list: root's process, as nobody -> EPERM");

    /* An fd's owner gets its signals only if the owner's setter may signal it. */
    int release[2];
    pipe(release);
    fflush(stdout);
    g_holder = fork();
    if (g_holder == 0) {
        char b;
        close(release[1]);
        read(release[0], &b, 1);
        _exit(0);
    }
    close(release[0]);
    as_nobody(sigio_to_holder);
    close(release[1]);
    int holder_status = 0;
    waitpid(g_holder, &holder_status, 0);
    T_EQ(tap_child_code(holder_status), 0,
         "fcntl: F_SETOWN of root's process with F_SETSIG SIGTERM, as nobody: no signal reaches it");

    /* Mounts and namespaces are CAP_SYS_ADMIN's. */
    T_EQ(as_nobody(mount_tmpfs), EPERM, "mount: a tmpfs, as nobody -> EPERM");
    T_EQ(as_nobody(umount_dir), EPERM, "umount2: as nobody -> EPERM (before EINVAL)");
    T_EQ(as_nobody(unshare_mounts), EPERM, "unshare: CLONE_NEWNS, as nobody -> EPERM");
    T_EQ(as_nobody(unshare_names), EPERM, "unshare: CLONE_NEWUTS, as nobody -> EPERM");
    T_EQ(as_nobody(enter_own_uts), EPERM, "setns: a UTS namespace, as nobody -> EPERM");
    T_EQ(as_nobody(write_hostname), EACCES, "open: /proc/sys/kernel/hostname for writing, as nobody -> EACCES");

    close(g_priv_fd);
    return tap_done();
}

// conformance: ns
/* Linux's corners in files: set-group-ID directories (open(2), mkdir(2)), chmod(2) of S_ISGID
 * by an owner outside the group, truncate(2)/ftruncate(2) past RLIMIT_FSIZE, O_NOATIME by a
 * non-owner, O_PATH fds (I/O refused, fstat, fcntl, fchdir, a base for openat, the lowest
 * number, the link itself), linkat(2) of an O_TMPFILE file by its /proc/self/fd link,
 * O_PATH|O_NOFOLLOW of a /proc/<pid>/fd link, openat2(2) RESOLVE_NO_MAGICLINKS (at the end and
 * on the way), the walk's EACCES before EROFS under a read-only mount, O_CREAT of an existing
 * /proc file, F_GETLK's holder pid, F_SETLEASE on an own file, execve(2) of a
 * bare relative name. Points that need an unprivileged caller run in a child as uid 65534. */
#include "tap.h"
#include <limits.h>
#include <grp.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#define GRP 4242

/* The child's result: 0 when the call succeeded, its errno otherwise (100+ on a setup error). */
static int ro_open(void *a)
{
    if (tap_become_nobody())
        return 101;
    int fd = open((const char *)a, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int sg_create(void *a)
{
    (void)a;
    if (tap_become_nobody())
        return 101;
    int fd = open("sg/byNobody", O_CREAT | O_WRONLY, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    struct stat st;
    if (stat("sg/byNobody", &st))
        return 102;
    return st.st_gid == GRP ? 0 : 103;
}

static int sg_chmod(void *a)
{
    (void)a;
    if (tap_become_nobody())
        return 101;
    if (chmod("sgfile", 02755))
        return errno;
    struct stat st;
    if (stat("sgfile", &st))
        return 102;
    return (st.st_mode & 07777) == 0755 ? 0 : 103;
}

static int sg_fchmod(void *a)
{
    (void)a;
    if (tap_become_nobody())
        return 101;
    int fd = open("sgfile2", O_RDONLY);
    if (fd < 0)
        return 102;
    if (fchmod(fd, 02755))
        return errno;
    struct stat st;
    if (fstat(fd, &st))
        return 103;
    return (st.st_mode & 07777) == 0755 ? 0 : 104;
}

static volatile sig_atomic_t got_xfsz;
static void on_xfsz(int s)
{
    (void)s;
    got_xfsz++;
}

/* 0 when truncate and ftruncate both fail with EFBIG and each raises SIGXFSZ. */
static int fsize(void *a)
{
    int which = *(int *)a;
    signal(SIGXFSZ, on_xfsz);
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_FSIZE, &rl))
        return 101;
    int r;
    if (which == 0) {
        r = truncate("big", 8192);
    } else {
        int fd = open("big", O_WRONLY);
        if (fd < 0)
            return 102;
        r = ftruncate(fd, 8192);
    }
    if (r != -1)
        return 103;
    if (errno != EFBIG)
        return errno;
    return got_xfsz == 1 ? 0 : 104;
}

static int fsize_within(void *a)
{
    (void)a;
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_FSIZE, &rl))
        return 101;
    return truncate("big", 4096) ? errno : 0;
}

static int noatime(void *a)
{
    (void)a;
    if (tap_become_nobody())
        return 101;
    int fd = open("rootowned", O_RDONLY | O_NOATIME);
    if (fd >= 0)
        return 0;
    return errno;
}

static int noatime_own(void *a)
{
    (void)a;
    if (tap_become_nobody())
        return 101;
    int fd = open("own", O_CREAT | O_RDONLY | O_NOATIME, 0644);
    if (fd < 0)
        return errno;
    return 0;
}

static int lease_own(void *a)
{
    (void)a;
    if (tap_become_nobody())
        return 101;
    int fd = open("leased", O_CREAT | O_WRONLY, 0644);
    if (fd < 0)
        return 102;
    close(fd);
    fd = open("leased", O_RDONLY);
    if (fd < 0)
        return 103;
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == -1)
        return errno;
    if (fcntl(fd, F_GETLEASE) != F_RDLCK)
        return 104;
    if (fcntl(fd, F_SETLEASE, F_UNLCK) == -1)
        return 105;
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (in < 0 || out < 0)
        return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n)
            return -1;
    close(in);
    close(out);
    return n == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit42") == 0)
        return 42;
    if (argc > 2 && strcmp(argv[1], "--exe-is") == 0) {
        /* Run through links: /proc/self/exe names the file itself, argv[0] the link. */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0)
            return 3;
        exe[n] = 0;
        return strcmp(exe, argv[2]) != 0 ? 1 : strcmp(argv[0], "exe-link") != 0 ? 2 : 0;
    }
    tap_init(argc, argv);
    chmod(".", 0777);
    struct stat st;

    /* A set-group-ID directory. */
    mkdir("sg", 0777);
    chown("sg", 0, GRP);
    chmod("sg", 02777);
    tap_write_file("sg/f", "x");
    stat("sg/f", &st);
    OK(st.st_gid == GRP, "open: O_CREAT in a set-group-ID directory takes the directory's group");
    mkdir("sg/d", 0755);
    stat("sg/d", &st);
    OK(st.st_gid == GRP, "mkdir: in a set-group-ID directory takes the directory's group");
    OK(st.st_mode & S_ISGID, "mkdir: in a set-group-ID directory keeps S_ISGID");
    symlink("f", "sg/l");
    lstat("sg/l", &st);
    OK(st.st_gid == GRP, "symlink: in a set-group-ID directory takes the directory's group");
    T_EQ(tap_child_code(tap_in_child(sg_create, NULL)), 0,
         "open: a caller outside the group creates in a set-group-ID directory with its group");

    /* chmod by the owner outside the file's group drops S_ISGID. */
    tap_write_file("sgfile", "x");
    chown("sgfile", 65534, GRP);
    T_EQ(tap_child_code(tap_in_child(sg_chmod, NULL)), 0,
         "chmod: S_ISGID by an owner outside the file's group is cleared");
    tap_write_file("sgfile2", "x");
    chown("sgfile2", 65534, GRP);
    T_EQ(tap_child_code(tap_in_child(sg_fchmod, NULL)), 0,
         "fchmod: S_ISGID by an owner outside the file's group is cleared");
    T_EQ(chmod("sgfile", 02755), 0, "chmod: S_ISGID by root outside the group");
    stat("sgfile", &st);
    OK((st.st_mode & 07777) == 02755, "chmod: root keeps S_ISGID");

    /* RLIMIT_FSIZE. */
    tap_write_file("big", "x");
    int which = 0;
    T_EQ(tap_child_code(tap_in_child(fsize, &which)), 0, "truncate: past RLIMIT_FSIZE -> EFBIG and SIGXFSZ");
    which = 1;
    T_EQ(tap_child_code(tap_in_child(fsize, &which)), 0, "ftruncate: past RLIMIT_FSIZE -> EFBIG and SIGXFSZ");
    T_EQ(tap_child_code(tap_in_child(fsize_within, NULL)), 0, "truncate: up to RLIMIT_FSIZE succeeds");

    /* O_NOATIME */
    tap_write_file("rootowned", "x");
    chmod("rootowned", 0644);
    T_EQ(tap_child_code(tap_in_child(noatime, NULL)), EPERM, "open: O_NOATIME on a file of another owner -> EPERM");
    T_EQ(tap_child_code(tap_in_child(noatime_own, NULL)), 0, "open: O_NOATIME on an own file");
    T_OK(open("rootowned", O_RDONLY | O_NOATIME), "open: O_NOATIME by root on any file");

    /* O_PATH */
    char b[4];
    int pfd = open("rootowned", O_PATH);
    T_ERR(write(pfd, "y", 1), EBADF, "write: O_PATH fd -> EBADF");
    T_IS_ERR(read(pfd, b, 1), EBADF, "read: an O_PATH fd is refused");
    T_IS_ERR(pread(pfd, b, 1, 0), EBADF, "pread64: an O_PATH fd is refused");
    T_IS_ERR(fchmod(pfd, 0600), EBADF, "fchmod: an O_PATH fd is refused");
    OK(fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 1, "fstat: an O_PATH fd");
    OK((fcntl(pfd, F_GETFL) & O_PATH) == O_PATH, "fcntl: F_GETFL of an O_PATH fd shows O_PATH");
    T_EQ(fcntl(pfd, F_GETFD), 0, "fcntl: an O_PATH fd without O_CLOEXEC has no FD_CLOEXEC");
    {
        char link[64], name[256];
        snprintf(link, sizeof link, "/proc/self/fd/%d", pfd);
        ssize_t n = readlink(link, name, sizeof name - 1);
        name[n > 0 ? n : 0] = 0;
        const char *tail = strrchr(name, '/');
        OK(tail && strcmp(tail, "/rootowned") == 0, "readlink: /proc/self/fd/N of an O_PATH fd names its file");
    }
    close(pfd);
    {
        /* The fd takes the lowest free number, and nothing else stays in the table. */
        int a = dup(0), b2 = dup(0);
        close(a);
        close(b2);
        int q = open("rootowned", O_PATH | O_CLOEXEC);
        OK(q == a, "open: an O_PATH fd takes the lowest free number");
        int next = dup(0);
        OK(next == b2, "open: an O_PATH open leaves no other fd behind");
        close(next);
        T_EQ(fcntl(q, F_GETFD), FD_CLOEXEC, "fcntl: O_PATH|O_CLOEXEC sets FD_CLOEXEC");
        close(q);
    }
    {
        /* A directory's O_PATH fd: a base for openat, a target for fchdir. */
        mkdir("opd", 0755);
        tap_write_file("opd/in", "i");
        int dfd = open("opd", O_PATH | O_DIRECTORY);
        int in = openat(dfd, "in", O_RDONLY);
        OK(in >= 0 && read(in, b, 1) == 1 && b[0] == 'i', "openat: an O_PATH directory fd as the base");
        if (in >= 0)
            close(in);
        T_IS_ERR(syscall(SYS_getdents64, dfd, b, sizeof b), EBADF, "getdents64: an O_PATH directory fd is refused");
        T_EQ(fchdir(dfd), 0, "fchdir: an O_PATH directory fd");
        T_EQ(access("in", F_OK), 0, "fchdir: the O_PATH directory is the cwd");
        chdir("..");
        close(dfd);
    }
    {
        /* O_PATH|O_NOFOLLOW of a symbolic link: the link itself. */
        symlink("rootowned", "oplink");
        int l = open("oplink", O_PATH | O_NOFOLLOW);
        OK(l >= 0 && fstatat(l, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode),
           "open: O_PATH|O_NOFOLLOW of a symbolic link opens the link");
        char target[64];
        ssize_t n = l >= 0 ? readlinkat(l, "", target, sizeof target) : -1;
        OK(n == 9 && memcmp(target, "rootowned", 9) == 0, "readlinkat: an empty path reads the O_PATH link");
        if (l >= 0)
            close(l);
    }

    /* linkat of an O_TMPFILE file through /proc/self/fd/N. */
    int tfd = open(".", O_TMPFILE | O_RDWR, 0600);
    char p[64];
    write(tfd, "tmp", 3);
    snprintf(p, sizeof p, "/proc/self/fd/%d", tfd);
    T_EQ(linkat(AT_FDCWD, p, AT_FDCWD, "linked", AT_SYMLINK_FOLLOW), 0,
         "linkat: /proc/self/fd/N of an O_TMPFILE file, AT_SYMLINK_FOLLOW, links it");
    int lfd = open("linked", O_RDONLY);
    OK(lfd >= 0 && read(lfd, b, 3) == 3 && memcmp(b, "tmp", 3) == 0, "linkat: the linked name holds the data");
    close(lfd);
    close(tfd);

    /* O_PATH|O_NOFOLLOW of a /proc/<pid>/fd link: the link itself. */
    int ffd = open("rootowned", O_RDONLY);
    snprintf(p, sizeof p, "/proc/%d/fd/%d", getpid(), ffd);
    int lk = open(p, O_PATH | O_NOFOLLOW);
    int lk_errno = errno;
    int is_link = lk >= 0 && fstatat(lk, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode);
    OK(is_link, "open: O_PATH|O_NOFOLLOW of /proc/<pid>/fd/N opens the link itself -> %s",
       is_link ? "a link" : lk >= 0 ? "not a link" : tap_errname(lk_errno));
    if (lk >= 0)
        close(lk);
    close(ffd);

    /* openat2 RESOLVE_NO_MAGICLINKS */
    struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_NO_MAGICLINKS};
    T_ERR(syscall(SYS_openat2, AT_FDCWD, "/proc/self/exe", &how, sizeof how), ELOOP,
          "openat2: RESOLVE_NO_MAGICLINKS refuses /proc/self/exe -> ELOOP");
    how.flags = O_PATH | O_NOFOLLOW;
    lk = syscall(SYS_openat2, AT_FDCWD, "/proc/self/exe", &how, sizeof how);
    lk_errno = errno;
    OK(lk >= 0, "openat2: RESOLVE_NO_MAGICLINKS with O_PATH|O_NOFOLLOW opens the link itself -> %s",
       lk >= 0 ? "opened" : tap_errname(lk_errno));
    if (lk >= 0)
        close(lk);
    how.flags = O_RDONLY;
    T_OK(syscall(SYS_openat2, AT_FDCWD, "/proc/self/status", &how, sizeof how),
         "openat2: RESOLVE_NO_MAGICLINKS lets a plain /proc file open");

    /* RESOLVE_NO_MAGICLINKS on the way, not only at the end. */
    how.flags = O_RDONLY;
    how.resolve = RESOLVE_NO_MAGICLINKS;
    T_ERR(syscall(SYS_openat2, AT_FDCWD, "/proc/self/cwd/rootowned", &how, sizeof how), ELOOP,
          "openat2: RESOLVE_NO_MAGICLINKS refuses a magic link on the way -> ELOOP");
    T_ERR(syscall(SYS_openat2, AT_FDCWD, "/proc/self/root/proc/self/cwd/rootowned", &how, sizeof how), ELOOP,
          "openat2: RESOLVE_NO_MAGICLINKS refuses /proc/self/root on the way -> ELOOP");
    how.resolve = 0;
    T_OK(syscall(SYS_openat2, AT_FDCWD, "/proc/self/cwd/rootowned", &how, sizeof how),
         "openat2: without RESOLVE_NO_MAGICLINKS a magic link on the way is followed");

    /* Under a read-only mount: the walk's EACCES before EROFS. */
    mkdir("rov", 0777);
    T_EQ(mount("conftmp", "rov", "tmpfs", 0, "size=1m,mode=0777"), 0, "mount: tmpfs for the read-only view");
    mkdir("rov/locked", 0700);
    tap_write_file("rov/locked/f", "x");
    tap_write_file("rov/f", "x");
    chmod("rov/f", 0644);
    T_EQ(mount(NULL, "rov", NULL, MS_REMOUNT | MS_RDONLY, NULL), 0, "mount: MS_REMOUNT|MS_RDONLY of it");
    T_EQ(tap_child_code(tap_in_child(ro_open, "rov/locked/f")), EACCES,
         "open: O_WRONLY through an unsearchable dir of a read-only mount -> EACCES before EROFS");
    T_EQ(tap_child_code(tap_in_child(ro_open, "rov/locked/new")), EACCES,
         "open: O_CREAT through an unsearchable dir of a read-only mount -> EACCES before EROFS");
    T_EQ(tap_child_code(tap_in_child(ro_open, "rov/f")), EROFS,
         "open: O_WRONLY of another's file on a read-only mount -> EROFS");
    T_EQ(tap_child_code(tap_in_child(ro_open, "rov/new")), EROFS,
         "open: O_CREAT in a read-only mount -> EROFS");
    T_EQ(umount2("rov", MNT_DETACH), 0, "umount2: the read-only view");

    /* O_CREAT of an existing /proc file */
    T_OK(open("/proc/self/status", O_RDONLY | O_CREAT, 0644), "open: O_RDONLY|O_CREAT of an existing /proc file");

    /* F_GETLK names the holder by its pid. */
    int lp[2], rp[2];
    pipe(lp);
    pipe(rp);
    tap_write_file("locked", "0123456789");
    fflush(stdout);
    pid_t holder = fork();
    if (holder == 0) {
        int fd = open("locked", O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4};
        fcntl(fd, F_SETLK, &fl);
        write(lp[1], "l", 1);
        read(rp[0], b, 1);
        _exit(0);
    }
    read(lp[0], b, 1);
    int fd = open("locked", O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK over another process's lock");
    OK(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 4, "fcntl: F_GETLK reports the held range");
    OK(fl.l_pid == holder, "fcntl: F_GETLK reports the holder's pid as fork returned it");
    write(rp[1], "u", 1);
    waitpid(holder, NULL, 0);
    close(fd);

    /* F_SETLEASE */
    T_EQ(tap_child_code(tap_in_child(lease_own, NULL)), 0, "fcntl: F_SETLEASE F_RDLCK on an own file, F_GETLEASE, F_UNLCK");
    tap_write_file("rlease", "x");
    fd = open("rlease", O_RDONLY);
    T_EQ(fcntl(fd, F_SETLEASE, F_RDLCK), 0, "fcntl: F_SETLEASE F_RDLCK by root");
    T_EQ(fcntl(fd, F_GETLEASE), F_RDLCK, "fcntl: F_GETLEASE returns F_RDLCK");
    T_EQ(fcntl(fd, F_SETLEASE, F_UNLCK), 0, "fcntl: F_SETLEASE F_UNLCK");
    close(fd);

    /* execve through a chain of links: /proc/self/exe names the file they lead to. */
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len < 0 ? 0 : len] = 0;
    unlink("exe-link");
    unlink("exe-link2");
    OK(len > 0 && symlink(self, "exe-link2") == 0 && symlink("exe-link2", "exe-link") == 0,
       "symlink: two links to the case's own program");
    fflush(stdout);
    pid_t via_link = fork();
    if (via_link == 0) {
        char *av[] = {"exe-link", "--exe-is", self, NULL};
        execve("exe-link", av, (char *[]){NULL});
        _exit(errno);
    }
    int linked;
    waitpid(via_link, &linked, 0);
    T_EQ(tap_child_code(linked), 0,
         "execve: through links, /proc/self/exe names the program, argv[0] the link");

    /* execve of a bare relative name: the file in the cwd. */
    OK(copy_file("/proc/self/exe", "prog") == 0, "execve: a copy of the case in the cwd");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char *av[] = {"prog", "--exit42", NULL};
        execve("prog", av, (char *[]){NULL});
        _exit(errno);
    }
    int status;
    waitpid(c, &status, 0);
    T_EQ(tap_child_code(status), 42, "execve: a bare relative name runs the file in the cwd");
    return tap_done();
}

/* Working directory and root: chdir(2), fchdir(2), getcwd(2), chroot(2) inside the sandbox
 * (in children, so the case's own root stays), truncate(2) (raw) and ftruncate(2). */
#include "tap.h"
#include <grp.h>
#include <limits.h>

#define sys_truncate(p, l) syscall(SYS_truncate, (p), (long)(l))

static int chroot_here(void *a)
{
    (void)a;
    /* The marker is in the work dir: after chroot(".") it is /marker. */
    if (chroot(".") != 0)
        return 1;
    if (access("/marker", F_OK) != 0)
        return 2;
    /* cwd is still the old work dir (now /): chdir("..") stays at the new root. */
    if (chdir("/..") != 0 || access("marker", F_OK) != 0)
        return 3;
    if (chdir("../../..") != 0 || access("marker", F_OK) != 0)
        return 4;
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf) || strcmp(buf, "/") != 0)
        return 5;
    int fd = open("/..", O_RDONLY | O_DIRECTORY);
    struct stat a1, b1;
    if (fd < 0 || fstat(fd, &a1) || stat("/", &b1) || a1.st_ino != b1.st_ino)
        return 6;
    return 0;
}

static int chroot_sub(void *a)
{
    (void)a;
    /* chroot into a subdirectory while the cwd stays outside it: getcwd names an unreachable
     * directory, and relative paths still work from it (chroot(2) NOTES). */
    if (chroot("sub") != 0)
        return 1;
    char buf[PATH_MAX];
    long r = syscall(SYS_getcwd, buf, sizeof buf);
    if (r < 0 || strncmp(buf, "(unreachable)", 13) != 0)
        return 2;
    if (access("marker", F_OK) != 0)
        return 3;
    if (access("/inner", F_OK) != 0)
        return 4;
    if (chdir("/") != 0 || access("inner", F_OK) != 0 || access("/marker", F_OK) == 0)
        return 5;
    return 0;
}

static int chroot_nobody(void *a)
{
    (void)a;
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
        return 1;
    return chroot(".") == -1 && errno == EPERM ? 0 : 2;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[PATH_MAX], base[PATH_MAX];
    char longname[NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct stat st;
    tap_write_file("a", "0123456789");
    tap_write_file("marker", "m");
    mkdir("d", 0755);
    tap_write_file("d/in", "y");
    mkdir("sub", 0755);
    tap_write_file("sub/inner", "i");
    symlink("d", "dlink");
    chmod(".", 0755); /* the nobody child must reach the work dir */
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    getcwd(base, sizeof base);

    /* getcwd */
    long n = T_OK(syscall(SYS_getcwd, buf, sizeof buf), "getcwd: the work dir");
    OK(n == (long)strlen(base) + 1 && buf[0] == '/', "getcwd: absolute, length includes NUL");
    T_ERR(syscall(SYS_getcwd, buf, 1), ERANGE, "getcwd: buffer too small -> ERANGE");
    T_ERR(syscall(SYS_getcwd, buf, 0), ERANGE, "getcwd: size 0 -> ERANGE");
    T_ERR(syscall(SYS_getcwd, BADPTR, 100), EFAULT, "getcwd: bad buffer -> EFAULT");

    /* chdir */
    T_EQ(chdir("d"), 0, "chdir: into a subdirectory");
    OK(access("in", F_OK) == 0, "chdir: relative paths now resolve in it");
    getcwd(buf, sizeof buf);
    OK(strlen(buf) == strlen(base) + 2 && strcmp(buf + strlen(base), "/d") == 0, "getcwd: reflects chdir");
    T_ERR(chdir("missing"), ENOENT, "chdir: missing -> ENOENT");
    T_ERR(chdir("in"), ENOTDIR, "chdir: a file -> ENOTDIR");
    T_ERR(chdir("in/x"), ENOTDIR, "chdir: through a file -> ENOTDIR");
    T_ERR(chdir(BADPTR), EFAULT, "chdir: bad pointer -> EFAULT");
    T_ERR(chdir(""), ENOENT, "chdir: empty path -> ENOENT");
    T_ERR(chdir(longname), ENAMETOOLONG, "chdir: long name -> ENAMETOOLONG");
    T_EQ(chdir(".."), 0, "chdir: ..");
    getcwd(buf, sizeof buf);
    OK(strcmp(buf, base) == 0, "getcwd: back in the work dir");
    T_EQ(chdir("dlink"), 0, "chdir: through a symlink");
    getcwd(buf, sizeof buf);
    OK(strcmp(buf + strlen(base), "/d") == 0, "getcwd: names the target, not the link");
    T_EQ(chdir("/"), 0, "chdir: /");
    getcwd(buf, sizeof buf);
    OK(strcmp(buf, "/") == 0, "getcwd: / after chdir(\"/\")");
    T_EQ(chdir("/.."), 0, "chdir: /.. is /");
    getcwd(buf, sizeof buf);
    OK(strcmp(buf, "/") == 0, "getcwd: still / after /..");
    chdir(base);
    mkdir("noexec", 0600);
    T_EQ(chdir("noexec"), 0, "chdir: a 0600 dir as root (CAP_DAC_READ_SEARCH)");
    chdir(base);

    /* fchdir */
    T_EQ(fchdir(dfd), 0, "fchdir: to a dir fd");
    getcwd(buf, sizeof buf);
    OK(strlen(buf) == strlen(base) + 2 && strcmp(buf + strlen(base), "/d") == 0, "getcwd: reflects fchdir");
    T_EQ(syscall(SYS_getcwd, buf, sizeof buf), (long)strlen(base) + 3, "getcwd: returns length including NUL");
    int afd = open("in", O_RDONLY);
    T_ERR(fchdir(afd), ENOTDIR, "fchdir: a file -> ENOTDIR");
    T_ERR(fchdir(-1), EBADF, "fchdir: bad fd -> EBADF");
    T_ERR(fchdir(999), EBADF, "fchdir: closed fd -> EBADF");
    close(afd);
    int pfd = open(base, O_PATH);
    T_EQ(fchdir(pfd), 0, "fchdir: an O_PATH dir fd");
    getcwd(buf, sizeof buf);
    OK(strcmp(buf, base) == 0, "getcwd: reflects fchdir to the O_PATH fd");
    close(pfd);
    chdir(base);

    /* chroot */
    T_EQ(tap_in_child(chroot_here, NULL), 0, "chroot: / is the new root; .. and /.. stay in it");
    T_EQ(tap_in_child(chroot_sub, NULL), 0, "chroot: cwd outside the new root is (unreachable); / is the new root");
    T_EQ(tap_in_child(chroot_nobody, NULL), 0, "chroot: as nobody -> EPERM");
    T_ERR(chroot("missing"), ENOENT, "chroot: missing -> ENOENT");
    T_ERR(chroot("marker"), ENOTDIR, "chroot: a file -> ENOTDIR");
    T_ERR(chroot(BADPTR), EFAULT, "chroot: bad pointer -> EFAULT");
    T_ERR(chroot(longname), ENAMETOOLONG, "chroot: long name -> ENAMETOOLONG");
    T_EQ(chroot("/"), 0, "chroot: / again is allowed for root");
    OK(access(base, F_OK) == 0 && access("marker", F_OK) == 0, "chroot: / again changes nothing");

    /* truncate / ftruncate */
    T_EQ(sys_truncate("a", 3), 0, "truncate: shrink");
    stat("a", &st);
    OK(st.st_size == 3, "truncate: size 3");
    T_EQ(sys_truncate("a", 100), 0, "truncate: grow");
    stat("a", &st);
    OK(st.st_size == 100, "truncate: size 100 (a hole)");
    T_ERR(sys_truncate("a", -1), EINVAL, "truncate: negative -> EINVAL");
    T_ERR(sys_truncate("d", 0), EISDIR, "truncate: directory -> EISDIR");
    T_ERR(sys_truncate("missing", 0), ENOENT, "truncate: missing -> ENOENT");
    T_ERR(sys_truncate("a/x", 0), ENOTDIR, "truncate: through a file -> ENOTDIR");
    T_ERR(sys_truncate(BADPTR, 0), EFAULT, "truncate: bad pointer -> EFAULT");
    T_ERR(sys_truncate("", 0), ENOENT, "truncate: empty path -> ENOENT");
    symlink("a", "alink");
    T_EQ(sys_truncate("alink", 1), 0, "truncate: follows a symlink");
    stat("a", &st);
    OK(st.st_size == 1, "truncate: the target shrank");
    mkfifo("fifo", 0600);
    T_ERR(sys_truncate("fifo", 0), EINVAL, "truncate: a FIFO -> EINVAL");
    int fd = open("a", O_RDWR);
    T_EQ(ftruncate(fd, 7), 0, "ftruncate: to 7");
    fstat(fd, &st);
    OK(st.st_size == 7, "ftruncate: size 7");
    T_ERR(ftruncate(fd, -1), EINVAL, "ftruncate: negative -> EINVAL");
    T_ERR(ftruncate(-1, 0), EBADF, "ftruncate: bad fd -> EBADF");
    close(fd);
    fd = open("a", O_RDONLY);
    T_ERR(ftruncate(fd, 0), EINVAL, "ftruncate: read-only fd -> EINVAL");
    close(fd);
    close(dfd);
    return tap_done();
}

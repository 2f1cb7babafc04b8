/* attack_privilege DIR: tries to leave host privilege behind in DIR (a host directory the
 * sandbox may write): set-user-ID and set-group-ID files made by chmod, fchmod, fchmodat,
 * open(O_CREAT), mknod and mkdir; file capabilities and trusted.* attributes. The sandbox must
 * see the modes it set; the test checks the host files. */
#include "prog.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static char path[4096];

static const char *in(const char *dir, const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_mode & 07777 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: attack_privilege DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int fd = open(in(dir, "chmod"), O_CREAT | O_WRONLY, 0755);
    must(fd >= 0);
    close(fd);
    check(chmod(in(dir, "chmod"), 04755) == 0, "chmod 4755");
    check(mode_of(in(dir, "chmod")) == 04755, "stat shows 4755 (%o)", mode_of(path));
    check(fchmodat(AT_FDCWD, in(dir, "chmod"), 06711, 0) == 0, "fchmodat 6711");
    check(mode_of(in(dir, "chmod")) == 06711, "stat shows 6711 (%o)", mode_of(path));

    fd = open(in(dir, "fchmod"), O_CREAT | O_RDWR, 0755);
    must(fd >= 0);
    check(fchmod(fd, 02755) == 0, "fchmod 2755");
    struct stat st;
    check(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 02755, "fstat shows 2755 (%o)", st.st_mode & 07777);

    int c = open(in(dir, "created"), O_CREAT | O_EXCL | O_WRONLY, 06755);
    check(c >= 0, "open(O_CREAT, 6755)");
    check(mknod(in(dir, "mknod"), S_IFREG | 06755, 0) == 0, "mknod 6755");
    check(mkdir(in(dir, "dir"), 06755) == 0, "mkdir 6755");

    /* A version-2 file capability granting everything. */
    unsigned char caps[20] = {0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    errno = 0;
    check(setxattr(in(dir, "chmod"), "security.capability", caps, sizeof caps, 0) == -1 && errno == EPERM,
          "setxattr security.capability: EPERM (%s)", strerror(errno));
    errno = 0;
    check(fsetxattr(fd, "security.capability", caps, sizeof caps, 0) == -1 && errno == EPERM,
          "fsetxattr security.capability: EPERM (%s)", strerror(errno));
    errno = 0;
    check(fsetxattr(fd, "trusted.x", "1", 1, 0) == -1 && errno == EPERM, "fsetxattr trusted.x: EPERM (%s)",
          strerror(errno));
    errno = 0;
    check(lsetxattr(in(dir, "fchmod"), "trusted.y", "1", 1, 0) == -1 && errno == EPERM,
          "lsetxattr trusted.y: EPERM (%s)", strerror(errno));
    printf("privilege done\n");
    return finish();
}

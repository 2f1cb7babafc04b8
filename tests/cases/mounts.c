// conformance: ns
/* Mount namespace: mount(2), umount2(2), /proc/self/mounts, chroot(2), pivot_root(2) errors.
 * Run natively under `unshare --mount` (private propagation): nothing leaks to the host. */
#include "tap.h"
#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/magic.h>

static int in_mounts(const char *needle)
{
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        return -1;
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            found = 1;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char cwd[4096], tgt[4200];
    getcwd(cwd, sizeof cwd);
    mkdir("mnt", 0755);
    snprintf(tgt, sizeof tgt, "%s/mnt", cwd);
    T_EQ(mount("conftmp", "mnt", "tmpfs", 0, "size=1m"), 0, "mount: tmpfs on a work dir subdirectory");
    struct statfs sf;
    statfs("mnt", &sf);
    OK(sf.f_type == TMPFS_MAGIC, "mount: statfs sees tmpfs");
    OK(in_mounts("conftmp") == 1, "mount: listed in /proc/self/mounts");
    T_EQ(tap_write_file("mnt/inside", "x"), 0, "mount: writable tmpfs");
    T_ERR(mount("x", "missing", "tmpfs", 0, NULL), ENOENT, "mount: missing target -> ENOENT");
    T_ERR(mount("x", "mnt", "nosuchfs", 0, NULL), ENODEV, "mount: unknown fs type -> ENODEV");
    T_ERR(mount("x", BADPTR, "tmpfs", 0, NULL), EFAULT, "mount: bad target pointer -> EFAULT");
    T_EQ(mount(NULL, "mnt", NULL, MS_REMOUNT | MS_RDONLY, NULL), 0, "mount: MS_REMOUNT read-only");
    T_ERR(open("mnt/new", O_CREAT | O_WRONLY, 0644), EROFS, "mount: read-only tmpfs -> EROFS");
    mkdir("bind", 0755);
    T_EQ(mount("mnt", "bind", NULL, MS_BIND, NULL), 0, "mount: MS_BIND");
    T_EQ(access("bind/inside", F_OK), 0, "mount: bind shows the same files");
    T_EQ(umount2("bind", 0), 0, "umount2: the bind mount");
    T_EQ(umount2("mnt", MNT_DETACH), 0, "umount2: MNT_DETACH");
    OK(in_mounts("conftmp") == 0, "umount2: gone from /proc/self/mounts");
    T_ERR(access("mnt/inside", F_OK), ENOENT, "umount2: the underlying dir is visible again");
    T_ERR(umount2("mnt", 0), EINVAL, "umount2: not a mount point -> EINVAL");
    T_ERR(umount2("mnt", 0x100), EINVAL, "umount2: bad flags -> EINVAL");
    T_ERR(umount2("missing", 0), ENOENT, "umount2: missing path -> ENOENT");
    T_ERR(syscall(SYS_pivot_root, BADPTR, "."), EFAULT, "pivot_root: bad new_root pointer -> EFAULT");
    /* chroot in a child: / becomes the work dir. */
    fflush(stdout);
    tap_write_file("marker", "m");
    pid_t c = fork();
    if (c == 0) {
        if (chroot(".") != 0)
            _exit(1);
        _exit(access("/marker", F_OK) == 0 ? 0 : 2);
    }
    int st;
    waitpid(c, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "chroot: / is the new root");
    T_ERR(chroot("missing"), ENOENT, "chroot: missing -> ENOENT");
    T_ERR(chroot("marker"), ENOTDIR, "chroot: a file -> ENOTDIR");
    return tap_done();
}

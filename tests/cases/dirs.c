/* Creating and removing names: mkdir(2)/mkdirat (raw legacy numbers), rmdir(2), mknod(2)/mknodat
 * (regular files and FIFOs; devices), unlink(2)/unlinkat(2), getdents64(2)/getdents, umask(2). */
#include "tap.h"
#include <dirent.h>
#include <limits.h>
#include <sys/sysmacros.h>

#define sys_mkdir(p, m) syscall(SYS_mkdir, (p), (m))
#define sys_rmdir(p) syscall(SYS_rmdir, (p))
#define sys_mknod(p, m, d) syscall(SYS_mknod, (p), (m), (d))
#define sys_unlink(p) syscall(SYS_unlink, (p))

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char longname[NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct stat st;
    tap_write_file("a", "x");
    mkdir("d", 0755);
    tap_write_file("d/in", "y");
    symlink("d", "dlink");
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    int ffd = open("a", O_RDONLY);

    /* mkdir / mkdirat */
    T_EQ(sys_mkdir("m", 0700), 0, "mkdir: creates");
    stat("m", &st);
    OK(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700 && st.st_nlink == 2, "mkdir: a 0700 directory with 2 links");
    T_EQ(sys_mkdir("m2", 0777), 0, "mkdir: mode 0777");
    stat("m2", &st);
    OK((st.st_mode & 0777) == 0755, "mkdir: umask 022 applied");
    T_ERR(sys_mkdir("m", 0700), EEXIST, "mkdir: existing -> EEXIST");
    T_ERR(sys_mkdir("a", 0700), EEXIST, "mkdir: existing file -> EEXIST");
    T_ERR(sys_mkdir("dlink", 0700), EEXIST, "mkdir: existing symlink -> EEXIST");
    T_ERR(sys_mkdir("nope/m", 0700), ENOENT, "mkdir: missing parent -> ENOENT");
    T_ERR(sys_mkdir("a/m", 0700), ENOTDIR, "mkdir: parent is a file -> ENOTDIR");
    T_ERR(sys_mkdir(longname, 0700), ENAMETOOLONG, "mkdir: long name -> ENAMETOOLONG");
    T_ERR(sys_mkdir(BADPTR, 0700), EFAULT, "mkdir: bad pointer -> EFAULT");
    T_ERR(sys_mkdir("", 0700), ENOENT, "mkdir: empty path -> ENOENT");
    T_EQ(sys_mkdir("dlink/viasym", 0700), 0, "mkdir: through a symlinked parent");
    T_EQ(access("d/viasym", F_OK), 0, "mkdir: created in the link's target");
    T_EQ(mkdirat(dfd, "sub", 0755), 0, "mkdirat: relative to dir fd");
    T_ERR(mkdirat(-5, "sub", 0755), EBADF, "mkdirat: bad dirfd -> EBADF");
    T_ERR(mkdirat(ffd, "sub", 0755), ENOTDIR, "mkdirat: dirfd is a file -> ENOTDIR");
    T_EQ(sys_mkdir("sg", 02755), 0, "mkdir: with the setgid bit in mode");
    stat("sg", &st);
    OK(!(st.st_mode & S_ISGID), "mkdir: setgid bit of mode ignored (only inherited)");
    T_EQ(sys_mkdir("sticky", 01755), 0, "mkdir: with the sticky bit");
    stat("sticky", &st);
    OK((st.st_mode & 07777) == 01755, "mkdir: sticky bit kept");

    /* rmdir */
    T_ERR(sys_rmdir("d"), ENOTEMPTY, "rmdir: non-empty -> ENOTEMPTY");
    T_ERR(sys_rmdir("a"), ENOTDIR, "rmdir: a file -> ENOTDIR");
    T_ERR(sys_rmdir("dlink"), ENOTDIR, "rmdir: a symlink to a dir -> ENOTDIR");
    T_ERR(sys_rmdir("m/."), EINVAL, "rmdir: last component . -> EINVAL");
    T_ERR(sys_rmdir("m/.."), ENOTEMPTY, "rmdir: last component .. -> ENOTEMPTY");
    T_ERR(sys_rmdir(BADPTR), EFAULT, "rmdir: bad pointer -> EFAULT");
    T_ERR(sys_rmdir(longname), ENAMETOOLONG, "rmdir: long name -> ENAMETOOLONG");
    T_EQ(sys_rmdir("m"), 0, "rmdir: empty dir");
    T_ERR(sys_rmdir("m"), ENOENT, "rmdir: missing -> ENOENT");
    T_ERR(sys_rmdir("nope/m"), ENOENT, "rmdir: missing parent -> ENOENT");

    /* mknod / mknodat */
    T_EQ(sys_mknod("fifo", S_IFIFO | 0600, 0), 0, "mknod: a FIFO");
    stat("fifo", &st);
    OK(S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600, "mknod: the node is a 0600 FIFO");
    int rfd = open("fifo", O_RDONLY | O_NONBLOCK);
    int wfd = open("fifo", O_WRONLY | O_NONBLOCK);
    OK(rfd >= 0 && wfd >= 0, "mknod: the FIFO opens for reading and writing");
    char c = 0;
    OK(write(wfd, "f", 1) == 1 && read(rfd, &c, 1) == 1 && c == 'f', "mknod: bytes go through the FIFO");
    close(rfd);
    close(wfd);
    T_EQ(sys_mknod("reg", S_IFREG | 0640, 0), 0, "mknod: a regular file");
    stat("reg", &st);
    OK(S_ISREG(st.st_mode) && st.st_size == 0, "mknod: an empty regular file");
    T_EQ(sys_mknod("reg0", 0640, 0), 0, "mknod: type 0 means a regular file");
    stat("reg0", &st);
    OK(S_ISREG(st.st_mode), "mknod: type 0 made S_IFREG");
    T_EQ(mknodat(dfd, "reg", S_IFREG | 0600, 0), 0, "mknodat: a regular file relative to a dir fd");
    T_EQ(mknodat(dfd, "fifo", S_IFIFO | 0600, 0), 0, "mknodat: a FIFO relative to a dir fd");
    T_ERR(mknodat(-5, "x", S_IFIFO | 0600, 0), EBADF, "mknodat: bad dirfd -> EBADF");
    T_ERR(sys_mknod("fifo", S_IFIFO | 0600, 0), EEXIST, "mknod: existing -> EEXIST");
    T_ERR(sys_mknod("bad", 0170000 | 0600, 0), EINVAL, "mknod: bad type -> EINVAL");
    T_ERR(sys_mknod("dir", S_IFDIR | 0700, 0), EPERM, "mknod: S_IFDIR -> EPERM");
    T_ERR(sys_mknod("nope/f", S_IFIFO | 0600, 0), ENOENT, "mknod: missing parent -> ENOENT");
    T_ERR(sys_mknod(BADPTR, S_IFIFO | 0600, 0), EFAULT, "mknod: bad pointer -> EFAULT");
    T_ERR(sys_mknod(longname, S_IFIFO | 0600, 0), ENAMETOOLONG, "mknod: long name -> ENAMETOOLONG");
    /* Devices: Linux lets root make them; the sentry refuses by design (its .expect-sentry). */
    T_IS(sys_mknod("null", S_IFCHR | 0600, makedev(1, 3)), 0, "mknod: char device 1:3 as root");
    T_IS(sys_mknod("blk", S_IFBLK | 0600, makedev(7, 0)), 0, "mknod: block device 7:0 as root");
    T_IS(mknodat(dfd, "null", S_IFCHR | 0600, makedev(1, 3)), 0, "mknodat: char device 1:3 as root");
    T_IS(sys_mknod("sock", S_IFSOCK | 0600, 0), 0, "mknod: a socket node");

    /* unlink / unlinkat */
    T_EQ(sys_unlink("fifo"), 0, "unlink: removes a FIFO");
    T_ERR(sys_unlink("fifo"), ENOENT, "unlink: missing -> ENOENT");
    T_ERR(sys_unlink("d"), EISDIR, "unlink: directory -> EISDIR");
    T_ERR(sys_unlink(BADPTR), EFAULT, "unlink: bad pointer -> EFAULT");
    T_ERR(sys_unlink("a/x"), ENOTDIR, "unlink: through a file -> ENOTDIR");
    T_ERR(sys_unlink(longname), ENAMETOOLONG, "unlink: long name -> ENAMETOOLONG");
    T_ERR(sys_unlink(""), ENOENT, "unlink: empty path -> ENOENT");
    T_EQ(sys_unlink("dlink"), 0, "unlink: a symlink, not its target");
    T_EQ(access("d/in", F_OK), 0, "unlink: the link's target survives");
    T_EQ(link("a", "a2"), 0, "unlink: (setup) a second link");
    T_EQ(sys_unlink("a2"), 0, "unlink: one of two links");
    stat("a", &st);
    OK(st.st_nlink == 1, "unlink: the link count dropped to 1");
    int ofd = open("reg", O_RDWR);
    T_EQ(sys_unlink("reg"), 0, "unlink: a file that is still open");
    OK(write(ofd, "z", 1) == 1 && fstat(ofd, &st) == 0 && st.st_nlink == 0, "unlink: the open fd stays usable, nlink 0");
    close(ofd);
    T_EQ(unlinkat(dfd, "sub", AT_REMOVEDIR), 0, "unlinkat: AT_REMOVEDIR");
    T_ERR(unlinkat(dfd, "reg", AT_REMOVEDIR), ENOTDIR, "unlinkat: AT_REMOVEDIR on a file -> ENOTDIR");
    T_ERR(unlinkat(dfd, "viasym", 0), EISDIR, "unlinkat: a dir without AT_REMOVEDIR -> EISDIR");
    T_ERR(unlinkat(dfd, "reg", 0x1), EINVAL, "unlinkat: bad flags -> EINVAL");
    T_ERR(unlinkat(-5, "reg", 0), EBADF, "unlinkat: bad dirfd -> EBADF");
    T_ERR(unlinkat(ffd, "reg", 0), ENOTDIR, "unlinkat: dirfd is a file -> ENOTDIR");
    T_EQ(unlinkat(dfd, "reg", 0), 0, "unlinkat: a file");
    T_ERR(unlinkat(dfd, "reg", 0), ENOENT, "unlinkat: missing -> ENOENT");

    /* getdents64 / getdents */
    char dbuf[4096];
    int gfd = open("d", O_RDONLY | O_DIRECTORY);
    long n = T_OK(syscall(SYS_getdents64, gfd, dbuf, sizeof dbuf), "getdents64: reads entries");
    int seen = 0;
    for (long off = 0; off < n;) {
        struct dirent64 *de = (struct dirent64 *)(dbuf + off);
        if (!strcmp(de->d_name, "in") && de->d_type == DT_REG)
            seen |= 1;
        if (!strcmp(de->d_name, "..") && de->d_type == DT_DIR)
            seen |= 2;
        if (!strcmp(de->d_name, "fifo") && de->d_type == DT_FIFO)
            seen |= 4;
        off += de->d_reclen;
    }
    OK(seen == 7, "getdents64: 'in' (DT_REG), 'fifo' (DT_FIFO) and '..' (DT_DIR)");
    T_EQ(syscall(SYS_getdents64, gfd, dbuf, sizeof dbuf), 0, "getdents64: 0 at end");
    lseek(gfd, 0, SEEK_SET);
    T_ERR(syscall(SYS_getdents64, gfd, dbuf, 10), EINVAL, "getdents64: buffer too small -> EINVAL");
    T_ERR(syscall(SYS_getdents64, gfd, BADPTR, 4096), EFAULT, "getdents64: bad buffer -> EFAULT");
    T_ERR(syscall(SYS_getdents64, ffd, dbuf, sizeof dbuf), ENOTDIR, "getdents64: on a file -> ENOTDIR");
    T_ERR(syscall(SYS_getdents64, -1, dbuf, sizeof dbuf), EBADF, "getdents64: bad fd -> EBADF");
    lseek(gfd, 0, SEEK_SET);
    T_OK(syscall(SYS_getdents, gfd, dbuf, sizeof dbuf), "getdents: legacy call reads entries");
    close(gfd);

    /* umask */
    mode_t old = umask(077);
    OK(old == 022, "umask: previous value 022");
    T_EQ(umask(022), 077, "umask: returns the value just set");
    umask(077);
    int fd = open("um", O_CREAT | O_WRONLY, 0666);
    fstat(fd, &st);
    OK((st.st_mode & 0777) == 0600, "umask: applied to new files");
    close(fd);
    T_EQ(sys_mkdir("umd", 0777), 0, "umask: (setup) mkdir under umask 077");
    stat("umd", &st);
    OK((st.st_mode & 0777) == 0700, "umask: applied to new directories");
    T_EQ(sys_mknod("umf", S_IFIFO | 0666, 0), 0, "umask: (setup) mknod under umask 077");
    stat("umf", &st);
    OK((st.st_mode & 0777) == 0600, "umask: applied to mknod");
    umask(022);
    T_EQ(umask(01777) , 022, "umask: only the permission bits are kept");
    T_EQ(umask(022), 0777, "umask: 01777 stored as 0777");
    close(dfd);
    close(ffd);
    return tap_done();
}

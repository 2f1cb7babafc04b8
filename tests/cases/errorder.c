// conformance: ns
/* Which errno Linux gives when more than one check fails, in the order path_init, the walk and
 * the call check them: EROFS before EACCES for write access on a read-only mount (open(2),
 * access(2), mkdir(2), unlink(2)), EACCES for a search permission on the path before the EPERM
 * of the call (chmod(2), chown(2), unlink(2)), EBUSY for rmdir(2) of a mount point, EACCES for
 * setpgid(2) of a child that has exec'd. Unprivileged points run in a child as uid 65534. */
#include "tap.h"
#include <grp.h>
#include <sys/mount.h>

/* Each op returns 0 on success, else its errno. */
static int op_open_w(void *a) { (void)a; if (tap_become_nobody()) return 101; return open("ro/f", O_WRONLY) >= 0 ? 0 : errno; }
static int op_access_w(void *a) { (void)a; if (tap_become_nobody()) return 101; return access("ro/f", W_OK) == 0 ? 0 : errno; }
static int op_mkdir(void *a) { (void)a; if (tap_become_nobody()) return 101; return mkdir("ro/sub", 0755) == 0 ? 0 : errno; }
static int op_unlink_ro(void *a) { (void)a; if (tap_become_nobody()) return 101; return unlink("ro/f") == 0 ? 0 : errno; }
static int op_creat(void *a) { (void)a; if (tap_become_nobody()) return 101; return open("ro/new", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : errno; }
static int op_chmod(void *a) { (void)a; if (tap_become_nobody()) return 101; return chmod("priv/f", 0777) == 0 ? 0 : errno; }
static int op_chown(void *a) { (void)a; if (tap_become_nobody()) return 101; return chown("priv/f", 65534, 65534) == 0 ? 0 : errno; }
static int op_unlink(void *a) { (void)a; if (tap_become_nobody()) return 101; return unlink("priv/f") == 0 ? 0 : errno; }
static int op_chmod_open(void *a) { (void)a; if (tap_become_nobody()) return 101; return chmod("pub/f", 0777) == 0 ? 0 : errno; }

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--wait-fd") == 0) {
        /* The exec'd child: waits until its parent closes the pipe. */
        char c;
        while (read(atoi(argv[2]), &c, 1) > 0)
            ;
        return 0;
    }
    tap_init(argc, argv);
    chmod(".", 0777);

    /* A read-only tmpfs holding a file nobody may not write. */
    mkdir("ro", 0777);
    T_EQ(mount("conftmp", "ro", "tmpfs", 0, "size=1m,mode=0777"), 0, "mount: tmpfs on a work dir subdirectory");
    tap_write_file("ro/f", "x");
    chmod("ro/f", 0644);
    T_EQ(mount(NULL, "ro", NULL, MS_REMOUNT | MS_RDONLY, NULL), 0, "mount: MS_REMOUNT|MS_RDONLY");
    T_EQ(tap_child_code(tap_in_child(op_open_w, NULL)), EROFS,
         "open: O_WRONLY of another's file on a read-only mount -> EROFS before EACCES");
    T_EQ(tap_child_code(tap_in_child(op_access_w, NULL)), EROFS,
         "access: W_OK of another's file on a read-only mount -> EROFS before EACCES");
    T_EQ(tap_child_code(tap_in_child(op_creat, NULL)), EROFS,
         "open: O_CREAT on a read-only mount -> EROFS");
    T_EQ(tap_child_code(tap_in_child(op_mkdir, NULL)), EROFS,
         "mkdir: on a read-only mount -> EROFS");
    T_EQ(tap_child_code(tap_in_child(op_unlink_ro, NULL)), EROFS,
         "unlink: on a read-only mount -> EROFS");
    T_ERR(access("ro/f", W_OK), EROFS, "access: W_OK by root on a read-only mount -> EROFS");
    T_EQ(access("ro/f", R_OK), 0, "access: R_OK on a read-only mount");

    /* EBUSY for rmdir of a mount point. */
    T_ERR(rmdir("ro"), EBUSY, "rmdir: a mount point -> EBUSY");
    T_EQ(umount2("ro", MNT_DETACH), 0, "umount2: the read-only mount");
    T_EQ(rmdir("ro"), 0, "rmdir: the directory once nothing is mounted on it");

    /* Search permission on the prefix before the call's own EPERM. */
    mkdir("priv", 0700);
    tap_write_file("priv/f", "x");
    mkdir("pub", 0755);
    tap_write_file("pub/f", "x");
    T_EQ(tap_child_code(tap_in_child(op_chmod, NULL)), EACCES, "chmod: through an unsearchable dir -> EACCES before EPERM");
    T_EQ(tap_child_code(tap_in_child(op_chown, NULL)), EACCES, "chown: through an unsearchable dir -> EACCES before EPERM");
    T_EQ(tap_child_code(tap_in_child(op_unlink, NULL)), EACCES, "unlink: through an unsearchable dir -> EACCES");
    T_EQ(tap_child_code(tap_in_child(op_chmod_open, NULL)), EPERM, "chmod: another's file in a searchable dir -> EPERM");

    /* setpgid of a child that has exec'd. */
    int hold[2], sync[2];
    pipe(hold);
    pipe2(sync, O_CLOEXEC);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", hold[0]);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        close(hold[1]);
        close(sync[0]);
        execl("/proc/self/exe", "errorder", "--wait-fd", fdarg, (char *)NULL);
        _exit(127);
    }
    close(hold[0]);
    close(sync[1]);
    char ch;
    OK(read(sync[0], &ch, 1) == 0, "execve: the child has exec'd (its close-on-exec end closed)");
    T_ERR(setpgid(c, c), EACCES, "setpgid: a child that has exec'd -> EACCES");
    close(hold[1]);
    int st;
    waitpid(c, &st, 0);
    T_EQ(tap_child_code(st), 0, "setpgid: the exec'd child ran to its end");
    pid_t c2 = fork();
    if (c2 == 0) {
        char b;
        read(sync[0], &b, 1);
        _exit(0);
    }
    T_EQ(setpgid(c2, c2), 0, "setpgid: a child that has not exec'd");
    waitpid(c2, NULL, 0);
    return tap_done();
}

/* personality(2): the query 0xffffffff, the flags that keep the ABI (ADDR_NO_RANDOMIZE,
 * UNAME26, ADDR_COMPAT_LAYOUT, SHORT_INODE, WHOLE_SECONDS, STICKY_TIMEOUTS), uname(2) under
 * UNAME26 with other flags, and a child inheriting the persona through fork. */
#include "tap.h"
#include <sys/personality.h>
#include <sys/utsname.h>

#define QUERY 0xffffffffUL

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    T_EQ(syscall(SYS_personality, QUERY), PER_LINUX, "personality: 0xffffffff queries PER_LINUX");
    T_EQ(syscall(SYS_personality, ADDR_NO_RANDOMIZE), PER_LINUX, "personality: ADDR_NO_RANDOMIZE accepted");
    T_EQ(syscall(SYS_personality, QUERY), ADDR_NO_RANDOMIZE, "personality: query returns ADDR_NO_RANDOMIZE");
    T_EQ(syscall(SYS_personality, QUERY), ADDR_NO_RANDOMIZE, "personality: a query does not change it");
    unsigned long both = UNAME26 | ADDR_NO_RANDOMIZE;
    T_EQ(syscall(SYS_personality, both), ADDR_NO_RANDOMIZE, "personality: UNAME26|ADDR_NO_RANDOMIZE accepted");
    struct utsname u;
    uname(&u);
    OK(strncmp(u.release, "2.6.", 4) == 0, "uname: UNAME26 with another flag reports 2.6.x");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(syscall(SYS_personality, QUERY) == (long)both ? 0 : 1);
    int st;
    waitpid(c, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "personality: a forked child inherits it");
    unsigned long flags[] = {ADDR_COMPAT_LAYOUT, SHORT_INODE, WHOLE_SECONDS, STICKY_TIMEOUTS};
    const char *names[] = {"ADDR_COMPAT_LAYOUT", "SHORT_INODE", "WHOLE_SECONDS", "STICKY_TIMEOUTS"};
    for (int i = 0; i < 4; i++) {
        syscall(SYS_personality, flags[i]);
        T_EQ(syscall(SYS_personality, QUERY), flags[i], "personality: %s accepted and queried", names[i]);
    }
    T_EQ(syscall(SYS_personality, PER_LINUX), STICKY_TIMEOUTS, "personality: back to PER_LINUX");
    uname(&u);
    OK(strncmp(u.release, "2.6.", 4) != 0, "uname: the real release without UNAME26");
    return tap_done();
}

// conformance: pts
/* Pseudo-terminals: posix_openpt(3)/grantpt/unlockpt/ptsname over /dev/ptmx, the slave's
 * open and its lock (TIOCSPTLCK), TIOCGPTN, TIOCGPTPEER, termios (tcsetattr/tcgetattr),
 * window sizes (TIOCSWINSZ/TIOCGWINSZ), data both ways, sessions and controlling terminals
 * (setsid, TIOCSCTTY, an open without O_NOCTTY, /dev/tty, TIOCSPGRP/TIOCGPGRP, tcgetsid),
 * ttyname, TIOCSTI refused, and /dev/pts listing the case's terminal. Natively the runner
 * gives the chroot a devpts instance of its own in a fresh mount namespace. Whatever a
 * terminal's number is, no line prints it. */
#include "tap.h"
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <termios.h>

static char slave_name[64];
static const char *self_path;
static int master_fd = -1;

/* Reads exactly n bytes (a pty hands data over asynchronously, in pieces). */
static int read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* TIOCSPGRP reads its group from the caller's memory. Another reader of that word (a thread,
 * or a process that maps the page too) sees the caller's own number throughout: under the
 * sentry, never the host's id for the group. */
enum { WORD, STARTED, DONE, SEEN_OTHER };
#define FOREGROUND_CALLS 2000

static void read_word_until_done(volatile int *shared)
{
    int want = shared[WORD];
    shared[STARTED] = 1;
    while (!shared[DONE])
        if (shared[WORD] != want)
            shared[SEEN_OTHER] = 1;
}

static void *word_reader(void *shared)
{
    read_word_until_done(shared);
    return NULL;
}

/* Sets the foreground group from `shared[WORD]` over and over while the reader runs; 0 when
 * every call succeeded and the reader saw only that number. */
static int set_foreground_watched(int s, volatile int *shared)
{
    while (!shared[STARTED])
        ;
    int failed = 0;
    for (int i = 0; i < FOREGROUND_CALLS && !failed; i++)
        failed = ioctl(s, TIOCSPGRP, (int *)&shared[WORD]) != 0;
    shared[DONE] = 1;
    return failed;
}

static int foreground_word_unseen_by_thread(int s)
{
    static volatile int shared[4];
    shared[WORD] = getpgrp();
    pthread_t reader;
    if (pthread_create(&reader, NULL, word_reader, (void *)shared) != 0)
        return 1;
    int failed = set_foreground_watched(s, shared);
    pthread_join(reader, NULL);
    return failed || shared[SEEN_OTHER];
}

static int foreground_word_unseen_by_process(int s)
{
    volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return 1;
    shared[WORD] = getpgrp();
    pid_t reader = fork();
    if (reader < 0)
        return 1;
    if (reader == 0) {
        read_word_until_done(shared);
        _exit(0);
    }
    int failed = set_foreground_watched(s, shared);
    int st;
    waitpid(reader, &st, 0);
    return failed || shared[SEEN_OTHER];
}

/* posix_spawn that gives the child the terminal (glibc's tcsetpgrp file action, after its
 * setpgid): the child, sharing the caller's memory until it execs (a vfork), makes the
 * TIOCSPGRP; 0 when it ran and the caller took the terminal back. */
static int spawn_takes_terminal(int s)
{
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addtcsetpgrp_np(&actions, s);
    char *argv[] = {(char *)self_path, "--exit-at-once", NULL};
    pid_t child;
    int r = posix_spawn(&child, self_path, &actions, &attr, argv, NULL);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return 1;
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    return tcsetpgrp(s, getpgrp()) != 0 || tcgetpgrp(s) != getpgrp();
}

/* The steps of a session leader that takes the terminal with TIOCSCTTY; returns 0, or the
 * number of the first step that failed. */
static int sctty_child(void *arg)
{
    (void)arg;
    signal(SIGTTOU, SIG_IGN);
    if (setsid() != getpid())
        return 1;
    int s = open(slave_name, O_RDWR | O_NOCTTY);
    if (s < 0)
        return 2;
    /* O_NOCTTY: no controlling terminal yet. */
    if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO)
        return 3;
    if (ioctl(s, TIOCSCTTY, 0) != 0)
        return 4;
    if (tcgetpgrp(s) != getpgrp())
        return 5;
    if (tcgetsid(s) != getsid(0))
        return 6;
    int t = open("/dev/tty", O_RDWR);
    if (t < 0)
        return 7;
    if (tcgetpgrp(t) != getpgrp())
        return 8;
    /* TIOCSPGRP to another group of the session, and back. */
    int go[2];
    if (pipe(go) != 0)
        return 9;
    pid_t job = fork();
    if (job == 0) {
        char c;
        setpgid(0, 0);
        _exit(read(go[0], &c, 1) == 1 ? 0 : 1);
    }
    if (job < 0 || setpgid(job, job) != 0)
        return 9;
    int r = 0;
    if (tcsetpgrp(s, job) != 0)
        r = 10;
    else if (tcgetpgrp(t) != job)
        r = 11;
    else if (tcsetpgrp(s, getpgrp()) != 0)
        r = 12;
    else if (tcgetpgrp(s) != getpgrp())
        r = 12;
    /* A group of another session: EPERM. */
    else if (tcsetpgrp(s, getppid()) != -1 || errno != EPERM)
        r = 13;
    if (write(go[1], "x", 1) != 1)
        r = r ? r : 9;
    int st;
    waitpid(job, &st, 0);
    if (r)
        return r;
    /* The master answers for its slave, whoever asks. */
    pid_t id = -1;
    if (ioctl(master_fd, TIOCGPGRP, &id) != 0 || id != getpgrp())
        return 14;
    if (ioctl(master_fd, TIOCGSID, &id) != 0 || id != getsid(0))
        return 15;
    if (ioctl(go[0], TIOCGPGRP, &id) != -1 || errno != ENOTTY)
        return 16;
    if (foreground_word_unseen_by_thread(s))
        return 17;
    if (foreground_word_unseen_by_process(s))
        return 18;
    if (spawn_takes_terminal(s))
        return 19;
    return 0;
}

/* A terminal that is not the caller's controlling terminal answers neither its group nor its
 * session. */
static int not_controlling_child(void *arg)
{
    (void)arg;
    if (setsid() != getpid())
        return 1;
    int s = open(slave_name, O_RDWR | O_NOCTTY);
    if (s < 0)
        return 2;
    pid_t id;
    if (ioctl(s, TIOCGPGRP, &id) != -1 || errno != ENOTTY)
        return 3;
    if (ioctl(s, TIOCGSID, &id) != -1 || errno != ENOTTY)
        return 4;
    return 0;
}

/* A session leader opens the slave without O_NOCTTY: it becomes its controlling terminal. */
static int open_ctty_child(void *arg)
{
    (void)arg;
    if (setsid() != getpid())
        return 1;
    int s = open(slave_name, O_RDWR);
    if (s < 0)
        return 2;
    if (tcgetsid(s) != getsid(0))
        return 3;
    int t = open("/dev/tty", O_RDWR);
    if (t < 0)
        return 4;
    if (tcgetpgrp(t) != getpgrp())
        return 5;
    if (write(t, "k", 1) != 1)
        return 6;
    return 0;
}

/* With O_NOCTTY, or write-only, an open gives no controlling terminal. */
static int open_noctty_child(void *arg)
{
    int flags = *(int *)arg;
    if (setsid() != getpid())
        return 1;
    if (open(slave_name, flags) < 0)
        return 2;
    if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO)
        return 3;
    return 0;
}

/* TIOCSTI without privilege: refused (EIO where dev.tty.legacy_tiocsti is 0, else EPERM for
 * a terminal that is not the caller's; the sentry refuses it on every terminal). */
static int tiocsti_child(void *arg)
{
    int s = *(int *)arg;
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 1;
    char c = 'x';
    errno = 0;
    if (ioctl(s, TIOCSTI, &c) != -1)
        return 2;
    return errno == EIO || errno == EPERM ? 0 : 3;
}

static int code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit-at-once") == 0)
        return 0;
    self_path = argv[0];
    tap_init(argc, argv);
    int m = T_OK(posix_openpt(O_RDWR | O_NOCTTY), "posix_openpt: opens /dev/ptmx");
    if (m < 0)
        return tap_done();
    master_fd = m;
    T_EQ(grantpt(m), 0, "grantpt: succeeds");
    T_EQ(unlockpt(m), 0, "unlockpt: succeeds");
    const char *name = ptsname(m);
    OK(name && strncmp(name, "/dev/pts/", 9) == 0, "ptsname: names /dev/pts/N");
    snprintf(slave_name, sizeof slave_name, "%s", name ? name : "");
    unsigned n = 9999;
    T_EQ(ioctl(m, TIOCGPTN, &n), 0, "ioctl: TIOCGPTN succeeds on the master");
    char by_number[64];
    snprintf(by_number, sizeof by_number, "/dev/pts/%u", n);
    OK(strcmp(by_number, slave_name) == 0, "ioctl: TIOCGPTN agrees with ptsname");
    OK(isatty(m), "isatty: the master is a terminal");

    int s = T_OK(open(slave_name, O_RDWR | O_NOCTTY), "open: the slave");
    OK(isatty(s), "isatty: the slave is a terminal");
    T_ERR(ioctl(s, TIOCGPTN, &n), ENOTTY, "ioctl: TIOCGPTN on the slave is ENOTTY");
    char tn[64] = "";
    T_EQ(ttyname_r(s, tn, sizeof tn), 0, "ttyname: of the slave succeeds");
    OK(strcmp(tn, slave_name) == 0, "ttyname: of the slave is its ptsname");
    struct stat st_s, st_n;
    OK(fstat(s, &st_s) == 0 && S_ISCHR(st_s.st_mode), "fstat: the slave is a character device");
    OK(stat(slave_name, &st_n) == 0 && st_n.st_rdev == st_s.st_rdev,
       "stat: the slave's path names the slave's device");

    /* The lock. */
    int lock = 1;
    T_EQ(ioctl(m, TIOCSPTLCK, &lock), 0, "ioctl: TIOCSPTLCK locks");
    lock = 0;
    OK(ioctl(m, TIOCGPTLCK, &lock) == 0 && lock == 1, "ioctl: TIOCGPTLCK reads locked");
    T_ERR(open(slave_name, O_RDWR | O_NOCTTY), EIO, "open: a locked slave is EIO");
    lock = 0;
    T_EQ(ioctl(m, TIOCSPTLCK, &lock), 0, "ioctl: TIOCSPTLCK unlocks");
    int again = T_OK(open(slave_name, O_RDWR | O_NOCTTY), "open: the unlocked slave again");
    if (again >= 0)
        close(again);

    /* TIOCGPTPEER. */
    int peer = T_OK(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), "ioctl: TIOCGPTPEER opens the slave");
    struct stat st_p;
    OK(peer >= 0 && fstat(peer, &st_p) == 0 && st_p.st_rdev == st_s.st_rdev,
       "ioctl: TIOCGPTPEER's fd is the same terminal");
    if (peer >= 0)
        close(peer);
    T_ERR(ioctl(s, TIOCGPTPEER, O_RDWR), EIO, "ioctl: TIOCGPTPEER on the slave is EIO");

    /* termios. */
    struct termios tio, back;
    T_EQ(tcgetattr(s, &tio), 0, "tcgetattr: of the slave");
    struct termios raw = tio;
    cfmakeraw(&raw);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    cfsetospeed(&raw, B9600);
    cfsetispeed(&raw, B9600);
    T_EQ(tcsetattr(s, TCSANOW, &raw), 0, "tcsetattr: raw mode");
    memset(&back, 0, sizeof back);
    OK(tcgetattr(m, &back) == 0 && back.c_lflag == raw.c_lflag && back.c_iflag == raw.c_iflag &&
           back.c_oflag == raw.c_oflag && back.c_cflag == raw.c_cflag,
       "tcgetattr: the master reads the modes set on the slave");
    OK(cfgetospeed(&back) == B9600, "tcgetattr: the speed set");

    /* Window size. */
    struct winsize ws = {.ws_row = 33, .ws_col = 101}, got = {0};
    T_EQ(ioctl(m, TIOCSWINSZ, &ws), 0, "ioctl: TIOCSWINSZ on the master");
    OK(ioctl(s, TIOCGWINSZ, &got) == 0 && got.ws_row == 33 && got.ws_col == 101,
       "ioctl: TIOCGWINSZ on the slave reads it");

    /* Data both ways (raw: no echo, no translation). */
    char buf[16] = "";
    T_EQ(write(m, "abc", 3), 3, "write: to the master");
    OK(read_all(s, buf, 3) == 0 && memcmp(buf, "abc", 3) == 0, "read: the slave reads it");
    T_EQ(write(s, "xyz", 3), 3, "write: to the slave");
    OK(read_all(m, buf, 3) == 0 && memcmp(buf, "xyz", 3) == 0, "read: the master reads it");

    /* /dev/pts lists the terminal. */
    DIR *d = opendir("/dev/pts");
    int listed = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            listed |= strcmp(e->d_name, slave_name + 9) == 0;
        closedir(d);
    }
    OK(listed, "getdents64: /dev/pts lists the terminal");

    /* Sessions. */
    const char *steps[] = {
        "setsid: a new session to take the terminal in",
        "open: the slave with O_NOCTTY",
        "open: /dev/tty without a controlling terminal is ENXIO",
        "ioctl: TIOCSCTTY takes the terminal",
        "ioctl: TIOCGPGRP is the leader's group",
        "ioctl: TIOCGSID is the session",
        "open: /dev/tty opens the controlling terminal",
        "ioctl: TIOCGPGRP through /dev/tty",
        "fork: a job in a group of its own",
        "ioctl: TIOCSPGRP gives the job the terminal",
        "ioctl: TIOCGPGRP is the job's group",
        "ioctl: TIOCSPGRP takes the terminal back",
        "ioctl: TIOCSPGRP to another session's group is EPERM",
        "ioctl: TIOCGPGRP on the master is the leader's group",
        "ioctl: TIOCGSID on the master is the session",
        "ioctl: TIOCGPGRP on a pipe is ENOTTY",
        "ioctl: TIOCSPGRP: a thread reading the group's word sees only its number",
        "ioctl: TIOCSPGRP: a process sharing the word's page sees only its number",
        "ioctl: TIOCSPGRP from a posix_spawn child before its exec (a vfork)",
    };
    int r = code(tap_in_child(sctty_child, NULL));
    for (int i = 0; i < (int)(sizeof steps / sizeof *steps); i++)
        OK(r == 0 || r > i + 1, "%s", steps[i]);
    if (r)
        tap_diag("TIOCSCTTY child failed at step %d", r);

    /* The open itself gives the terminal. */
    const char *opened[] = {
        "setsid: a new session to open the terminal in",
        "open: the slave without O_NOCTTY",
        "ioctl: TIOCGSID: the open made it the session's terminal",
        "open: /dev/tty opens the terminal the open gave",
        "ioctl: TIOCGPGRP: the leader's group is the foreground",
        "write: to /dev/tty",
    };
    r = code(tap_in_child(open_ctty_child, NULL));
    for (int i = 0; i < (int)(sizeof opened / sizeof *opened); i++)
        OK(r == 0 || r > i + 1, "%s", opened[i]);
    if (r)
        tap_diag("open child failed at step %d", r);
    OK(read_all(m, buf, 1) == 0 && buf[0] == 'k', "read: what /dev/tty wrote reaches the master");
    int flags = O_RDWR | O_NOCTTY;
    T_EQ(code(tap_in_child(open_noctty_child, &flags)), 0,
         "open: with O_NOCTTY gives no controlling terminal");
    flags = O_WRONLY;
    T_EQ(code(tap_in_child(open_noctty_child, &flags)), 0,
         "open: write-only gives no controlling terminal");

    T_EQ(code(tap_in_child(tiocsti_child, &s)), 0, "ioctl: TIOCSTI is refused");

    const char *elsewhere[] = {
        "setsid: a new session without the terminal",
        "open: the slave with O_NOCTTY, in another session",
        "ioctl: TIOCGPGRP of a terminal not the caller's is ENOTTY",
        "ioctl: TIOCGSID of a terminal not the caller's is ENOTTY",
    };
    r = code(tap_in_child(not_controlling_child, NULL));
    for (int i = 0; i < (int)(sizeof elsewhere / sizeof *elsewhere); i++)
        OK(r == 0 || r > i + 1, "%s", elsewhere[i]);
    /* Its sessions over, the terminal has no foreground group and no session. */
    pid_t id = -1;
    OK(ioctl(m, TIOCGPGRP, &id) == 0 && id == 0,
       "ioctl: TIOCGPGRP on the master of a terminal no session holds is 0");
    T_ERR(ioctl(m, TIOCGSID, &id), ENOTTY,
          "ioctl: TIOCGSID on the master of a terminal no session holds is ENOTTY");

    tcsetattr(s, TCSANOW, &tio);
    close(s);
    close(m);
    return tap_done();
}

/* Kernel memory in socket buffers under --memory-limit. argv[1] is the mode:
 *   pairs    socketpairs whose senders are filled until they would block, all kept open;
 *   orphans  the same, each sender closed once full (its data waits in the receiver);
 *   dgram    datagram socketpairs filled the same way.
 * It makes pairs until the sandbox refuses one (or 2000 pairs), prints what it holds and
 * "ready", and waits for its stdin to close, so that the test measures the queues from the
 * host. Then every socket is closed and a new pair must be possible again: the charges were
 * released. */
#include "prog.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MAX_PAIRS 2000

static int fds[MAX_PAIRS][2];

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "pairs";
    int dgram = strcmp(mode, "dgram") == 0, orphans = strcmp(mode, "orphans") == 0;
    struct rlimit nofile;
    must(getrlimit(RLIMIT_NOFILE, &nofile) == 0);
    nofile.rlim_cur = nofile.rlim_max < 8192 ? nofile.rlim_max : 8192;
    must(setrlimit(RLIMIT_NOFILE, &nofile) == 0);
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    unsigned long held = 0;
    int pairs = 0, stop = 0;
    for (; pairs < MAX_PAIRS; pairs++) {
        int *p = fds[pairs];
        if (socketpair(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0, p) != 0) {
            stop = errno;
            break;
        }
        for (;;) {
            ssize_t n = write(p[0], chunk, dgram ? 16384 : sizeof chunk);
            if (n <= 0)
                break;
            held += (unsigned long)n;
        }
        if (orphans) {
            close(p[0]);
            p[0] = -1;
        }
    }
    printf("held %lu bytes in %d %s pairs; stopped by %s\n", held, pairs, mode,
           stop ? strerror(stop) : "the pair count");
    check(stop == ENOMEM || stop == ENOBUFS, "the sandbox refused a socket (%s)",
          stop ? strerror(stop) : "none");
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    for (int i = 0; i < pairs; i++) {
        if (fds[i][0] >= 0)
            close(fds[i][0]);
        close(fds[i][1]);
    }
    int again[2];
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, again) == 0,
          "a pair can be made once the others are closed (%s)", strerror(errno));
    printf("sockbuf done\n");
    return finish();
}

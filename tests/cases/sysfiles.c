// conformance: ns netns
/* Files of /proc/sys, /proc/<pid>/pagemap and /sys that programs read, as a container with
 * its own PID and network namespaces sees them (proc(5), sysfs(5)): kernel/pid_max,
 * kernel/tainted, kernel/core_pattern, fs/pipe-max-size, fs/pipe-user-pages-soft,
 * net/ipv4/conf/lo/; pagemap's entries (present bit, alignment); /sys/class/net/lo,
 * /sys/kernel/mm, /sys/devices/system/cpu, read-only. Natively the case mounts a read-only
 * sysfs of its network namespace in its own directory when the root has none. */
#include "tap.h"
#include <dirent.h>
#include <net/if.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>

static char sys[64] = "/sys";

/* The first line of a file (without its newline), or "" when it cannot be read. */
static const char *line_of(const char *fmt, ...)
{
    static char buf[4096];
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    buf[0] = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return buf;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

/* A decimal number alone on a line. */
static int is_number(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != '-')
            return 0;
    return 1;
}

static int lists(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    int found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        found |= strcmp(e->d_name, name) == 0;
    if (d)
        closedir(d);
    return found;
}

static void lo_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        (void)ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    if (s >= 0)
        close(s);
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    lo_up();

    /* /proc/sys */
    long pid_max = atol(line_of("/proc/sys/kernel/pid_max"));
    OK(pid_max >= 301 && pid_max <= 4194304, "read: kernel/pid_max is a pid limit");
    OK(is_number(line_of("/proc/sys/kernel/tainted")), "read: kernel/tainted is a number");
    OK(strlen(line_of("/proc/sys/kernel/core_pattern")) > 0, "read: kernel/core_pattern is a line");
    long pipe_max = atol(line_of("/proc/sys/fs/pipe-max-size"));
    OK(pipe_max >= 4096, "read: fs/pipe-max-size is a size");
    OK(is_number(line_of("/proc/sys/fs/pipe-user-pages-soft")), "read: fs/pipe-user-pages-soft is a number");
    int p[2];
    pipe(p);
    T_OK(fcntl(p[0], F_SETPIPE_SZ, (int)pipe_max), "fcntl: F_SETPIPE_SZ of pipe-max-size");
    T_EQ(fcntl(p[0], F_GETPIPE_SZ), pipe_max, "fcntl: F_GETPIPE_SZ gives it back");
    close(p[0]);
    close(p[1]);
    OK(lists("/proc/sys/net/ipv4/conf", "lo"), "getdents64: net/ipv4/conf lists lo");
    static const char *lo_conf[] = {"forwarding", "rp_filter", "route_localnet", "accept_local",
                                    "arp_ignore", "disable_policy", "log_martians", "tag"};
    for (size_t i = 0; i < sizeof lo_conf / sizeof lo_conf[0]; i++)
        OK(is_number(line_of("/proc/sys/net/ipv4/conf/lo/%s", lo_conf[i])),
           "read: net/ipv4/conf/lo/%s is a number", lo_conf[i]);

    /* pagemap: 8 bytes per page of the address space. */
    OK(lists("/proc/self", "pagemap"), "getdents64: /proc/self lists pagemap");
    int pm = T_OK(open("/proc/self/pagemap", O_RDONLY), "open: /proc/self/pagemap");
    struct stat st;
    T_EQ(fstat(pm, &st), 0, "fstat: pagemap");
    OK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0400 && st.st_size == 0,
       "fstat: pagemap is a 0400 regular file of size 0");
    char *page = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[0] = 1;
    uint64_t entry[2] = {0, 0};
    off_t at = (off_t)((uintptr_t)page / 4096) * 8;
    T_EQ(pread(pm, entry, sizeof entry, at), 16, "pread: the entries of two pages");
    OK(entry[0] >> 63 == 1, "pagemap: a touched page is present (bit 63)");
    OK(entry[1] == 0, "pagemap: an untouched anonymous page is not present");
    uint64_t frame = entry[0] & ((1ULL << 55) - 1);
    OK(frame != 0, "pagemap: a root reader sees the frame of a present page -> %s",
       frame ? "a frame" : "0");
    T_ERR(pread(pm, entry, 8, at + 3), EINVAL, "pread: pagemap at an offset not a multiple of 8 -> EINVAL");
    T_ERR(pread(pm, entry, 3, at), EINVAL, "pread: pagemap of a count not a multiple of 8 -> EINVAL");
    T_ERR(write(pm, entry, 8), EBADF, "write: pagemap opened read-only -> EBADF");
    close(pm);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    char child_map[64];
    snprintf(child_map, sizeof child_map, "/proc/%d/pagemap", c);
    int cpm = T_OK(open(child_map, O_RDONLY), "open: a child's pagemap");
    T_EQ(pread(cpm, entry, 8, 0), 8, "pread: a child's pagemap");
    close(cpm);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);

    /* /sys: natively a read-only sysfs of this network namespace, mounted here. */
    if (access("/sys/class/net", F_OK) != 0) {
        mkdir("sysfs", 0755);
        if (mount("sysfs", "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
            snprintf(sys, sizeof sys, "%s/sysfs", tap_dir);
    }
    char path[256], link[256];
    snprintf(path, sizeof path, "%s/class/net", sys);
    DIR *d = opendir(path);
    int others = 0, lo = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, "lo") == 0)
            lo++;
        else if (e->d_name[0] != '.')
            others++;
    }
    if (d)
        closedir(d);
    OK(lo == 1 && others == 0, "getdents64: /sys/class/net has lo alone");
    snprintf(path, sizeof path, "%s/class/net/lo", sys);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    OK(strcmp(link, "../../devices/virtual/net/lo") == 0, "readlink: class/net/lo -> devices/virtual/net/lo");
    static const struct {
        const char *name, *want;
    } attrs[] = {
        {"mtu", "65536"},         {"ifindex", "1"},         {"iflink", "1"},
        {"type", "772"},          {"addr_len", "6"},        {"address", "00:00:00:00:00:00"},
        {"flags", "0x9"},         {"operstate", "unknown"}, {"carrier", "1"},
        {"tx_queue_len", "1000"}, {"dev_id", "0x0"},        {"uevent", "INTERFACE=lo"},
        {"statistics/tx_errors", "0"},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        OK(strcmp(line_of("%s/class/net/lo/%s", sys, attrs[i].name), attrs[i].want) == 0,
           "read: class/net/lo/%s is %s", attrs[i].name, attrs[i].want);
    snprintf(path, sizeof path, "%s/class/net/lo/mtu", sys);
    T_ERR(open(path, O_WRONLY), EROFS, "open: /sys is read-only -> EROFS");
    OK(strchr(line_of("%s/kernel/mm/transparent_hugepage/enabled", sys), '[') != NULL,
       "read: kernel/mm/transparent_hugepage/enabled shows its choice");
    OK(strcmp(line_of("%s/kernel/mm/transparent_hugepage/hpage_pmd_size", sys), "2097152") == 0,
       "read: kernel/mm/transparent_hugepage/hpage_pmd_size is 2 MiB");
    OK(is_number(line_of("%s/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", sys)),
       "read: kernel/mm/hugepages/hugepages-2048kB/nr_hugepages is a number");
    OK(strlen(line_of("%s/devices/system/cpu/online", sys)) > 0, "read: devices/system/cpu/online");
    if (strcmp(sys, "/sys") != 0)
        umount2("sysfs", MNT_DETACH);
    return tap_done();
}

/* Lives only outside the sandbox's root: if it ever runs, the sandbox ran a host file. */
#include <unistd.h>

int main(void)
{
    static const char marker[] = "HOST-PAYLOAD-RAN\n";
    write(1, marker, sizeof marker - 1);
    _exit(0);
}

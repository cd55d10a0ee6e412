// The floor for any userspace stack on a TAP: a minimal ICMP echo responder in C (no JS, no event loop,
// no copies), for bench/ping-floor.sh. It answers IPv4 echo requests by turning the frame around in place
// (MACs and addresses swapped, type 8 -> 0, checksum patched per RFC 1624) and writing it back.
//
//   tap-echo-floor TAPNAME MODE      MODE: poll (sleep in poll(2) until a frame arrives) or spin (read(2) in a loop)
//
// It creates the TAP in the current network namespace, prints "ready", and runs until killed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: tap-echo-floor TAPNAME poll|spin\n");
    return 2;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
    perror("tap-echo-floor: TUNSETIFF");
    return 1;
  }
  const int spin = strcmp(argv[2], "spin") == 0;
  printf("ready\n");
  fflush(stdout);
  unsigned char f[2048], t[6];
  for (;;) {
    ssize_t n = read(fd, f, sizeof f);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) return 1;
      if (!spin) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, -1);
      }
      continue;
    }
    // Ethernet type 0x0800, IPv4 without options, protocol 1 (ICMP), type 8 (echo request).
    if (n < 42 || f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 || f[23] != 1 || f[34] != 8) continue;
    memcpy(t, f, 6), memcpy(f, f + 6, 6), memcpy(f + 6, t, 6);
    memcpy(t, f + 26, 4), memcpy(f + 26, f + 30, 4), memcpy(f + 30, t, 4);
    f[34] = 0;  // RFC 1624: HC' = HC + m - m' (one's complement), m - m' = 0x0800
    uint32_t sum = ((uint32_t)f[36] << 8 | f[37]) + 0x0800;
    sum = (sum & 0xffff) + (sum >> 16);
    f[36] = (unsigned char)(sum >> 8), f[37] = (unsigned char)sum;
    if (write(fd, f, (size_t)n) < 0) continue;
  }
}

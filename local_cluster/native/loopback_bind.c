/* Preloaded into the local cluster's JVMs (LD_PRELOAD): a TCP socket bound to the wildcard address
 * (0.0.0.0 or ::) is bound to loopback instead. Pinot 0.11's server query port (Netty) binds
 * "*:<port>" and has no setting for its address; everything else is configured to 127.0.0.1 and
 * stays as it is. Only stream sockets are touched: a client socket is never bound explicitly. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static bind_fn real_bind;
  if (real_bind == NULL) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
  int type = 0;
  socklen_t type_len = sizeof type;
  if (addr == NULL || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM)
    return real_bind(fd, addr, len);
  if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in v4;
    memcpy(&v4, addr, sizeof v4);
    if (v4.sin_addr.s_addr == htonl(INADDR_ANY)) {
      v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return real_bind(fd, (const struct sockaddr *)&v4, sizeof v4);
    }
  } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 v6;
    memcpy(&v6, addr, sizeof v6);
    if (IN6_IS_ADDR_UNSPECIFIED(&v6.sin6_addr)) {
      /* ::ffff:127.0.0.1: the JVM's sockets are dual-stack, and its clients connect to 127.0.0.1 */
      memset(&v6.sin6_addr, 0, sizeof v6.sin6_addr);
      v6.sin6_addr.s6_addr[10] = 0xff;
      v6.sin6_addr.s6_addr[11] = 0xff;
      v6.sin6_addr.s6_addr[12] = 127;
      v6.sin6_addr.s6_addr[15] = 1;
      return real_bind(fd, (const struct sockaddr *)&v6, sizeof v6);
    }
  }
  return real_bind(fd, addr, len);
}

/*
 * podnet's CNI client: the executable the container runtime runs as the `podnet` plugin when `podnet cni install`
 * had a C compiler. It starts in about a millisecond, hands the request (the CNI_* environment and the
 * configuration on stdin) to the node agent over a unix socket, and relays the agent's answer (stdout, stderr,
 * exit status) as its own. The agent runs the same plugin code, warm (src/agent/cni-server.ts; docs/cni.md).
 *
 * When no agent answers it execs the self-contained Node.js plugin (PODNET_FALLBACK) with the same environment
 * and stdin, so every verb works without the agent (as `PODNET_NODE PODNET_NODE_ARGS PODNET_FALLBACK` when
 * install built those in: one execve, not a second one through the plugin's #! line):
 *   - the socket is missing, or connect() is refused (no agent);
 *   - the agent closes the connection before its "accepted" frame (it died, or it declined: another network
 *     namespace than ours, or it is shutting down).
 * After "accepted", the agent may have changed the node. If it dies then, the client does not run the verb
 * again blindly: the accepted frame says what to do, either print the error it carries (ADD: CNI error 11, try
 * again; the state is that of a plugin killed mid-ADD, which the runtime's DEL removes) or fall back (verbs
 * that are safe to repeat: DEL, CHECK, STATUS, GC, VERSION).
 *
 * Wire format (both directions are bytes; integers are u32 little-endian):
 *   request:  "podnet-cni/1\0" "<st_dev>:<st_ino> of /proc/self/ns/net\0" then "KEY=VALUE\0" for each CNI_* and
 *             PODNET_CNI_* variable, then "\0", then stdin as is; then shutdown(SHUT_WR).
 *   answer:   'D' (declined: fall back) | 'A' u32 n <n bytes: what to print if the agent dies from now on; empty:
 *             fall back> 'R' u8 status u32 n <stdout> u32 m <stderr>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PODNET_AGENT_SOCKET
#define PODNET_AGENT_SOCKET "/run/podnet/cni.sock"
#endif
#ifndef PODNET_FALLBACK
#define PODNET_FALLBACK "/opt/cni/bin/podnet.d/plugin"
#endif

extern char **environ;

struct buf {
  char *p;
  size_t n, cap;
};

static void put(struct buf *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void read_all(int fd, struct buf *b) {
  char chunk[65536];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r > 0) put(b, chunk, (size_t)r);
    else if (r < 0 && errno == EINTR) continue;
    else return;
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Runs the Node.js plugin in our place, with our environment and the stdin we already read (in a memfd). */
static void fallback(const struct buf *in) {
  int fd = memfd_create("podnet-cni-stdin", 0);
  if (fd >= 0 && write_all(fd, in->p ? in->p : "", in->n) == 0 && lseek(fd, 0, SEEK_SET) == 0) {
    dup2(fd, 0);
    close(fd);
  }
#ifdef PODNET_NODE
  /* Node.js itself, with the arguments install chose (src/cni/loader.ts): one execve, not two through the #! line. */
  char *argv[] = {PODNET_NODE, PODNET_NODE_ARGS, PODNET_FALLBACK, NULL};
  execve(PODNET_NODE, argv, environ);
#else
  char *argv[] = {(char *)PODNET_FALLBACK, NULL};
  execve(PODNET_FALLBACK, argv, environ);
#endif
  static const char msg[] = "podnet CNI client: cannot run the plugin " PODNET_FALLBACK "\n";
  write_all(2, msg, sizeof msg - 1);
  _exit(1);
}

/*
 * The socket path: the configuration's "agentSocket" (a plain string, no escapes), else the installed default.
 * A scan, not a JSON parser: the agent parses the configuration properly; a wrong path only means a fallback.
 */
static void socket_path(const struct buf *in, char *out, size_t cap) {
  strncpy(out, PODNET_AGENT_SOCKET, cap - 1);
  out[cap - 1] = 0;
  const char *key = "\"agentSocket\"";
  const char *p = in->n ? memmem(in->p, in->n, key, strlen(key)) : NULL;
  if (!p) return;
  const char *end = in->p + in->n;
  p += strlen(key);
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (p >= end || *p++ != ':') return;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (p >= end || *p++ != '"') return;
  const char *q = p;
  while (q < end && *q != '"' && *q != '\\') q++;
  if (q >= end || *q != '"' || (size_t)(q - p) >= cap || q == p) return;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = 0;
}

static int read_exact(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

static int read_frame(int fd, struct buf *b) {
  uint8_t len[4];
  if (read_exact(fd, len, 4) != 0) return -1;
  size_t n = (size_t)len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
  if (n > (64u << 20)) return -1;
  b->n = 0;
  if (n == 0) return 0;
  char *p = malloc(n);
  if (!p) abort();
  int r = read_exact(fd, p, n);
  if (r == 0) put(b, p, n);
  free(p);
  return r;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  struct buf in = {0};
  read_all(0, &in);
  if (getenv("PODNET_CNI_NO_AGENT")) fallback(&in);

  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  socket_path(&in, sa.sun_path, sizeof sa.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) fallback(&in);

  struct buf req = {0};
  static const char magic[] = "podnet-cni/1";
  put(&req, magic, sizeof magic);
  struct stat ns;
  char id[64] = "";
  if (stat("/proc/self/ns/net", &ns) == 0) {
    snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)ns.st_dev, (unsigned long long)ns.st_ino);
  }
  put(&req, id, strlen(id) + 1);
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "CNI_", 4) == 0 || strncmp(*e, "PODNET_CNI_", 11) == 0) put(&req, *e, strlen(*e) + 1);
  put(&req, "", 1);
  if (in.n) put(&req, in.p, in.n);
  if (write_all(fd, req.p, req.n) != 0) fallback(&in);
  shutdown(fd, SHUT_WR);

  char kind;
  if (read_exact(fd, &kind, 1) != 0 || kind != 'A') fallback(&in); /* declined, or gone before accepting */
  struct buf onDeath = {0};
  if (read_frame(fd, &onDeath) != 0) fallback(&in);

  struct buf out = {0}, err = {0};
  uint8_t status;
  if (read_exact(fd, &kind, 1) != 0 || kind != 'R' || read_exact(fd, &status, 1) != 0 ||
      read_frame(fd, &out) != 0 || read_frame(fd, &err) != 0) {
    /* Accepted, then no complete answer: the agent died while it may have been changing the node. */
    if (onDeath.n == 0) fallback(&in);
    write_all(1, onDeath.p, onDeath.n);
    return 1;
  }
  if (err.n) write_all(2, err.p, err.n);
  if (out.n) write_all(1, out.p, out.n);
  return status;
}

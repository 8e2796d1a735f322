/*
 * podnet's kernel doorway (the CNI plugin, `lab up`, and the nftables generation id of a long-running loop): what
 * Node.js cannot do by itself.
 *
 *   routeSocket(nsFd)  a NETLINK_ROUTE socket bound to the network namespace `nsFd` refers to (-1: our own).
 *                      The calling thread enters that namespace only for the socket(2) call and returns at
 *                      once; a netlink socket stays in the namespace it was created in, so every message sent
 *                      on it acts there. Other threads of the process never change namespace.
 *   netfilterSocket(nsFd)  the same for NETLINK_NETFILTER (nftables' generation id, src/exec/netlink/nft-gen.ts;
 *                      nftables batches, src/exec/netlink/nft-batch.ts), with a send buffer big enough for one.
 *   diagSocket(nsFd)   the same for NETLINK_SOCK_DIAG (what `ss -ltn` asks: a namespace's listening sockets,
 *                      src/observe/listening.ts), without reading /proc/net/tcp's every connection of the host.
 *   sysctlFile(nsFd, key)  /proc/sys/net/KEY opened for writing in the network namespace `nsFd` refers to
 *                      (the same enter-call-return discipline): /proc/sys/net shows the namespace of the thread that
 *                      opens it, and an open file keeps it, so `sysctl -w` inside a lab node needs no process.
 *   netnsAdd(name)     what `ip netns add NAME` does, in this process (iproute2's netns_add): /run/netns made a
 *                      shared mount point, the file /run/netns/NAME created, and on the calling thread only a
 *                      new network namespace (unshare) bind-mounted onto it, then the thread goes home.
 *   tryLock(name)      binds an abstract unix socket of that name: a lock the kernel drops when the holder
 *                      exits, even by SIGKILL. Returns the fd, or -1 when someone else holds it.
 *   mapFile(path)      the file's bytes as a Buffer over a read-only mapping of it, and
 *   mapLatin1(path)    the file as a one-byte string over such a mapping (V8 keeps it outside its heap): the CNI
 *                      plugin's loader reads its code and code cache so, without read(2) copying them into
 *                      freshly faulted memory (src/cni/loader.ts). The files must not change in place (install
 *                      replaces them by rename). mapLatin1 copies when Node.js has no external strings.
 *   exitNow(code)      _exit(code): the CNI plugin's last step, once its answer is written (src/cni/loader.ts).
 *
 * Messages themselves are built and parsed in TypeScript (src/exec/netlink/) and written/read on the returned
 * fd with plain write(2)/read(2). Only the C ABI of Node-API is used (node_api.h), so the addon loads on any
 * Node.js of the same platform.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <stddef.h>
#include <node_api.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[512];
  char code[32];
  snprintf(msg, sizeof msg, "%.400s: %.100s", what, strerror(err)); /* a long path is cut, not the reason */
  snprintf(code, sizeof code, "ERRNO_%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static int arg_int(napi_env env, napi_callback_info info, int32_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return -1;
  return napi_get_value_int32(env, argv[0], out) == napi_ok ? 0 : -1;
}

static napi_value int_value(napi_env env, int v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static napi_value netlink_socket(napi_env env, napi_callback_info info, int protocol) {
  int32_t ns_fd;
  if (arg_int(env, info, &ns_fd) != 0) {
    napi_throw_type_error(env, NULL, "routeSocket/netfilterSocket/diagSocket(nsFd): nsFd must be a number (-1 for our own namespace)");
    return NULL;
  }
  int home = -1;
  if (ns_fd >= 0) {
    home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return throw_errno(env, "open /proc/thread-self/ns/net", errno);
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      int e = errno;
      close(home);
      return throw_errno(env, "setns (not a network namespace?)", e);
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  int e = errno;
  if (home >= 0) {
    /* Going home cannot fail for a namespace we were in a moment ago; if it did, this thread would act in
     * the wrong namespace from now on, so stop the process rather than continue. */
    if (setns(home, CLONE_NEWNET) != 0) abort();
    close(home);
  }
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", e);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  /* An nftables batch is one message of up to tens of MB (a full sync at 50,000 services): allow it to be sent
   * whole, as nft does (the buffer is a limit, not memory set aside). SO_SNDBUFFORCE needs CAP_NET_ADMIN. */
  if (protocol == NETLINK_NETFILTER) {
    int size = 1 << 28;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  /* The kernel answers every request at once; a read that waits this long means something is wrong. */
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return int_value(env, fd);
}

static napi_value route_socket(napi_env env, napi_callback_info info) {
  return netlink_socket(env, info, NETLINK_ROUTE);
}

static napi_value netfilter_socket(napi_env env, napi_callback_info info) {
  return netlink_socket(env, info, NETLINK_NETFILTER);
}

static napi_value diag_socket(napi_env env, napi_callback_info info) {
  return netlink_socket(env, info, NETLINK_SOCK_DIAG);
}

static napi_value sysctl_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t ns_fd;
  char key[200];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &ns_fd) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], key, sizeof key, &len) != napi_ok || len == 0 ||
      len >= sizeof key - 1 || strstr(key, "..") != NULL || key[0] == '/') {
    napi_throw_type_error(env, NULL, "sysctlFile(nsFd, key): key must be a relative path under /proc/sys/net, e.g. ipv4/ip_forward");
    return NULL;
  }
  char path[256];
  snprintf(path, sizeof path, "/proc/sys/net/%s", key);
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return throw_errno(env, "open /proc/thread-self/ns/net", errno);
  if (setns(ns_fd, CLONE_NEWNET) != 0) {
    int e = errno;
    close(home);
    return throw_errno(env, "setns (not a network namespace?)", e);
  }
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  int e = errno;
  if (setns(home, CLONE_NEWNET) != 0) abort(); /* as in netlink_socket: never continue in the wrong namespace */
  close(home);
  if (fd < 0) return throw_errno(env, path, e);
  return int_value(env, fd);
}

static napi_value netns_add(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[200];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok || len == 0 ||
      len >= sizeof name - 1 || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    napi_throw_type_error(env, NULL, "netnsAdd(name): name must be a file name (no '/')");
    return NULL;
  }
  const char *dir = "/run/netns";
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  mkdir(dir, S_IRWXU | S_IRGRP | S_IXGRP | S_IROTH | S_IXOTH);
  /* As iproute2: make /run/netns a shared mount point (bind-mounting it onto itself the first time), so an
   * unmount in one mount namespace reaches the others and the network namespace can be freed. */
  int made = 0;
  while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) != 0) {
    if (errno != EINVAL || made) return throw_errno(env, "mount --make-shared /run/netns", errno);
    if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) != 0) return throw_errno(env, "mount --bind /run/netns /run/netns", errno);
    made = 1;
  }
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, path, errno);
  close(fd);
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int e = errno;
    unlink(path);
    return throw_errno(env, "open /proc/thread-self/ns/net", e);
  }
  if (unshare(CLONE_NEWNET) != 0) {
    int e = errno;
    close(home);
    unlink(path);
    return throw_errno(env, "unshare(CLONE_NEWNET)", e);
  }
  int e = 0;
  if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) != 0) e = errno;
  if (setns(home, CLONE_NEWNET) != 0) abort(); /* as in netlink_socket: never continue in the wrong namespace */
  close(home);
  if (e != 0) {
    unlink(path);
    return throw_errno(env, "mount --bind (the new namespace onto its file)", e);
  }
  return NULL;
}

static napi_value try_lock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[100];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok || len == 0 ||
      len >= sizeof(((struct sockaddr_un *)0)->sun_path) - 1) {
    napi_throw_type_error(env, NULL, "tryLock(name): name must be a string of 1 to 100 bytes");
    return NULL;
  }
  /* SOCK_STREAM, like the lock Node's net module takes without the addon: the two exclude each other. */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_UNIX)", errno);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path + 1, name, len); /* sun_path[0] = 0: the abstract namespace, nothing on disk */
  if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) != 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE) return int_value(env, -1);
    return throw_errno(env, "bind (lock)", e);
  }
  return int_value(env, fd);
}

/* Maps the file named by the one argument (read-only, private, its pages mapped at once). NULL: thrown. */
static char *map_arg(napi_env env, napi_callback_info info, size_t *len) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t n = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok || n == 0 || n >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "mapFile/mapLatin1(path): path must be a non-empty string");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    throw_errno(env, path, e);
    return NULL;
  }
  *len = (size_t)st.st_size;
  /* mmap refuses a length of 0: an empty file is an empty allocation of our own (unmap frees it). */
  void *p = *len == 0 ? calloc(1, 1) : mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED || p == NULL) {
    throw_errno(env, path, e);
    return NULL;
  }
  return p;
}

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  if ((size_t)hint == 0) free(data);
  else munmap(data, (size_t)hint);
}

static napi_value map_file(napi_env env, napi_callback_info info) {
  size_t len;
  char *p = map_arg(env, info, &len);
  napi_value out;
  if (p == NULL) return NULL;
  if (napi_create_external_buffer(env, len, p, unmap, (void *)len, &out) != napi_ok) {
    unmap(env, p, (void *)len);
    napi_throw_error(env, NULL, "mapFile: cannot make a Buffer of the mapping");
    return NULL;
  }
  return out;
}

/* node_api_create_external_string_latin1 (Node.js 20.4 and later), looked up so the addon loads on any Node.js. */
typedef napi_status (*external_latin1_fn)(napi_env, char *, size_t, napi_finalize, void *, napi_value *, bool *);

static napi_value map_latin1(napi_env env, napi_callback_info info) {
  static external_latin1_fn external;
  if (external == NULL) external = (external_latin1_fn)dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1");
  size_t len;
  char *p = map_arg(env, info, &len);
  napi_value out;
  bool copied;
  if (p == NULL) return NULL;
  /* Made external, the mapping is V8's to release (or, if Node.js copied it after all, already released). */
  if (external && external(env, p, len, unmap, (void *)len, &out, &copied) == napi_ok) return out;
  napi_status st = napi_create_string_latin1(env, p, len, &out);
  unmap(env, p, (void *)len);
  if (st != napi_ok) {
    napi_throw_error(env, NULL, "mapLatin1: cannot make a string of the file");
    return NULL;
  }
  return out;
}

/* _exit(2): the process ends here, without Node.js's teardown (joining V8's worker threads, atexit handlers). */
static napi_value exit_now(napi_env env, napi_callback_info info) {
  int32_t code = 0;
  arg_int(env, info, &code);
  _exit(code);
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } exported[] = {
      {"routeSocket", route_socket}, {"netfilterSocket", netfilter_socket}, {"diagSocket", diag_socket},
      {"sysctlFile", sysctl_file},   {"netnsAdd", netns_add},               {"tryLock", try_lock},
      {"mapFile", map_file},         {"mapLatin1", map_latin1},             {"exitNow", exit_now},
  };
  for (size_t i = 0; i < sizeof exported / sizeof exported[0]; i++) {
    napi_value fn;
    napi_create_function(env, exported[i].name, NAPI_AUTO_LENGTH, exported[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, exported[i].name, fn);
  }
  return exports;
}

/* console.c - character backends for serial ports (see console.h): an input queue filled by a
 * reader thread, fd backends (stdio with the terminal in raw mode, file:, null, pipes), Ctrl-A
 * escape keys, and QEMU's -serial spellings. */
#include "devices/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define ESCAPE_CHAR 0x01 /* Ctrl-A */
#define EVENT_FLAG 0x100

/* ---- the terminal -------------------------------------------------------------------------
 * Process-wide on purpose: there is one controlling terminal, and the signal handlers and the
 * atexit hook that restore it cannot reach the machine's structs. */

static const int tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGABRT,
                                  SIGTSTP, SIGCONT};
#define N_TTY_SIGNALS (int)(sizeof(tty_signals) / sizeof(tty_signals[0]))

static struct {
  volatile sig_atomic_t raw; /* the terminal is in our raw mode */
  volatile sig_atomic_t active; /* a stdio chardev owns the terminal (raw or not) */
  int fd;
  struct termios saved, rawmode;
  bool installed[N_TTY_SIGNALS];
  struct sigaction old[N_TTY_SIGNALS];
  bool atexit_done;
} tty = {.fd = -1};

void console_restore_terminal(void) {
  if (tty.raw) {
    tcsetattr(tty.fd, TCSANOW, &tty.saved);
    tty.raw = 0;
  }
}

static void tty_reapply(void) {
  if (tty.fd >= 0 && !tty.raw && tcsetattr(tty.fd, TCSANOW, &tty.rawmode) == 0)
    tty.raw = 1;
}

static void tty_signal(int sig) {
  int saved_errno = errno;
  if (sig == SIGCONT) {
    tty_reapply();
  } else if (sig == SIGTSTP) {
    console_restore_terminal();
    kill(getpid(), SIGSTOP);
  } else {
    /* Installed with SA_RESETHAND | SA_NODEFER: the default action is back and raise() takes
     * it at once. */
    console_restore_terminal();
    raise(sig);
  }
  errno = saved_errno;
}

static void tty_atexit(void) { console_restore_terminal(); }

static void tty_install_handlers(void) {
  for (int i = 0; i < N_TTY_SIGNALS; i++) {
    struct sigaction cur;
    tty.installed[i] = false;
    if (sigaction(tty_signals[i], NULL, &cur) < 0)
      continue;
    /* Leave signals alone that someone else handles or ignores. */
    if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL)
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tty_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (tty_signals[i] != SIGTSTP && tty_signals[i] != SIGCONT)
      sa.sa_flags |= SA_RESETHAND | SA_NODEFER;
    if (sigaction(tty_signals[i], &sa, &tty.old[i]) == 0)
      tty.installed[i] = true;
  }
}

static void tty_remove_handlers(void) {
  for (int i = 0; i < N_TTY_SIGNALS; i++) {
    if (!tty.installed[i])
      continue;
    struct sigaction cur;
    /* Only undo what is still ours (SA_RESETHAND may have reset it already). */
    if (sigaction(tty_signals[i], NULL, &cur) == 0 && cur.sa_handler == tty_signal)
      sigaction(tty_signals[i], &tty.old[i], NULL);
    tty.installed[i] = false;
  }
}

/* Raw mode as QEMU's stdio backend sets it: bytes go to the guest one by one, unechoed and
 * unedited; output processing stays on so that bt386's own messages still end their lines. */
static int tty_make_raw(int fd, bool signals) {
  if (tcgetattr(fd, &tty.saved) < 0)
    return -errno;
  struct termios t = tty.saved;
  t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.c_oflag |= OPOST;
  t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
  if (!signals)
    t.c_lflag &= ~(tcflag_t)ISIG;
  t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  tty.rawmode = t;
  tty.fd = fd;
  tty_install_handlers();
  if (!tty.atexit_done) {
    atexit(tty_atexit);
    tty.atexit_done = true;
  }
  if (tcsetattr(fd, TCSANOW, &t) < 0) {
    int err = -errno;
    tty_remove_handlers();
    return err;
  }
  tty.raw = 1;
  return 0;
}

static void tty_release(void) {
  console_restore_terminal();
  tty_remove_handlers();
  tty.fd = -1;
}

/* ---- the input queue ---------------------------------------------------------------------- */

static unsigned queued(const struct chardev *c) { return c->q_tail - c->q_head; }

static int queue_init(struct chardev *c) {
  memset(c, 0, sizeof(*c));
  c->in_fd = c->out_fd = -1;
  c->wake[0] = c->wake[1] = -1;
  int err = pthread_mutex_init(&c->lock, NULL);
  if (err)
    return -err;
  err = pthread_cond_init(&c->space, NULL);
  if (err) {
    pthread_mutex_destroy(&c->lock);
    return -err;
  }
  return 0;
}

static void kick(const struct chardev_host *h) {
  if (h->kick)
    h->kick(h->opaque);
}

/* Append entries, waiting for room while the queue is full. */
static int queue_put(struct chardev *c, const uint16_t *e, size_t n) {
  struct chardev_host h;
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < n;) {
    while (queued(c) == CHARDEV_QUEUE && !atomic_load(&c->stop))
      pthread_cond_wait(&c->space, &c->lock);
    if (atomic_load(&c->stop)) {
      pthread_mutex_unlock(&c->lock);
      return -EPIPE;
    }
    while (i < n && queued(c) < CHARDEV_QUEUE)
      c->queue[c->q_tail++ % CHARDEV_QUEUE] = e[i++];
    atomic_store(&c->pending, true);
    if (i < n) { /* let the vCPU drain what is there while we wait */
      h = c->host;
      pthread_mutex_unlock(&c->lock);
      kick(&h);
      pthread_mutex_lock(&c->lock);
    }
  }
  h = c->host;
  pthread_mutex_unlock(&c->lock);
  if (n)
    kick(&h);
  return 0;
}

int chardev_push_input(struct chardev *c, const uint8_t *buf, size_t len) {
  uint16_t e[256];
  while (len) {
    size_t n = len < 256 ? len : 256;
    for (size_t i = 0; i < n; i++)
      e[i] = buf[i];
    int err = queue_put(c, e, n);
    if (err)
      return err;
    buf += n, len -= n;
  }
  return 0;
}

int chardev_push_event(struct chardev *c, enum chardev_event ev) {
  uint16_t e = EVENT_FLAG | (uint16_t)ev;
  return queue_put(c, &e, 1);
}

static void deliver_quit(struct chardev *c) {
  pthread_mutex_lock(&c->lock);
  struct chardev_host h = c->host;
  pthread_mutex_unlock(&c->lock);
  if (h.quit)
    h.quit(h.opaque);
}

bool chardev_poll(struct chardev *c) {
  if (!atomic_load_explicit(&c->pending, memory_order_acquire))
    return false;
  bool did = false;
  if (atomic_exchange(&c->quit, false)) {
    deliver_quit(c);
    did = true;
  }
  for (;;) {
    size_t room = c->fe.can_receive ? c->fe.can_receive(c->fe.opaque) : 0;
    if (room == 0)
      break;
    uint16_t e[64];
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    /* A run of bytes, or one event on its own. */
    while (n < room && n < 64 && queued(c)) {
      uint16_t v = c->queue[c->q_head % CHARDEV_QUEUE];
      if ((v & EVENT_FLAG) && n)
        break;
      e[n++] = v;
      c->q_head++;
      if (v & EVENT_FLAG)
        break;
    }
    if (!queued(c) && !atomic_load(&c->quit))
      atomic_store(&c->pending, false);
    if (n)
      pthread_cond_broadcast(&c->space);
    pthread_mutex_unlock(&c->lock);
    if (!n)
      break;
    did = true;
    if (e[0] & EVENT_FLAG) {
      if (c->fe.event)
        c->fe.event(c->fe.opaque, (enum chardev_event)(e[0] & 0xff));
      continue;
    }
    uint8_t b[64];
    for (size_t i = 0; i < n; i++)
      b[i] = (uint8_t)e[i];
    c->in_bytes += n;
    c->fe.receive(c->fe.opaque, b, n);
  }
  return did;
}

void chardev_set_frontend(struct chardev *c, const struct chardev_frontend *fe) {
  if (fe)
    c->fe = *fe;
  else
    memset(&c->fe, 0, sizeof(c->fe));
}

void chardev_set_host(struct chardev *c, const struct chardev_host *h) {
  pthread_mutex_lock(&c->lock);
  if (h)
    c->host = *h;
  else
    memset(&c->host, 0, sizeof(c->host));
  struct chardev_host now = c->host;
  bool waiting = atomic_load(&c->pending);
  pthread_mutex_unlock(&c->lock);
  if (waiting)
    kick(&now);
}

/* ---- fd backends -------------------------------------------------------------------------- */

static int write_all(int fd, const uint8_t *buf, size_t len) {
  while (len) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) { /* someone made the fd non-blocking */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, -1);
        continue;
      }
      return -errno;
    }
    buf += n, len -= (size_t)n;
  }
  return 0;
}

static ssize_t fd_write(struct chardev *c, const uint8_t *buf, size_t len) {
  if (c->out_fd < 0)
    return (ssize_t)len; /* null: the bytes go nowhere, at once */
  int err = write_all(c->out_fd, buf, len);
  return err ? err : (ssize_t)len;
}

static void fd_close(struct chardev *c) {
  if (c->close_out && c->out_fd >= 0)
    close(c->out_fd);
  if (c->close_in && c->in_fd >= 0)
    close(c->in_fd);
  c->out_fd = c->in_fd = -1;
}

static const struct chardev_ops fd_ops = {"fd", fd_write, fd_close};

static void say(struct chardev *c, const char *msg) {
  if (c->out_fd >= 0)
    write_all(c->out_fd, (const uint8_t *)msg, strlen(msg));
}

static const char escape_help[] =
    "\r\nbt386 escape keys (Ctrl-A, then):\r\n"
    "  x        quit (twice: quit at once)\r\n"
    "  b        send a break to the guest\r\n"
    "  h or ?   this list\r\n"
    "  Ctrl-A   send Ctrl-A to the guest\r\n"
    "  c        (QEMU's monitor: bt386 has none)\r\n";

static void request_quit(struct chardev *c) {
  pthread_mutex_lock(&c->lock);
  bool again = c->quit_seen, handled = c->host.quit != NULL;
  c->quit_seen = true;
  if (!again && handled) {
    atomic_store(&c->quit, true);
    atomic_store(&c->pending, true);
  }
  struct chardev_host h = c->host;
  pthread_mutex_unlock(&c->lock);
  if (again || !handled) {
    say(c, "\r\nbt386: terminated\r\n");
    console_restore_terminal();
    _exit(1);
  }
  kick(&h);
}

/* Turn bytes read from the backend into queue entries, acting on Ctrl-A commands. */
static int take_input(struct chardev *c, const uint8_t *buf, size_t len) {
  uint16_t e[256];
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = buf[i];
    if (!c->escapes) {
      e[n++] = b;
    } else if (!c->got_escape) {
      if (b == ESCAPE_CHAR)
        c->got_escape = true;
      else
        e[n++] = b;
    } else {
      c->got_escape = false;
      switch (b) {
      case ESCAPE_CHAR:
        e[n++] = b;
        break;
      case 'b':
        e[n++] = EVENT_FLAG | CHARDEV_BREAK;
        break;
      case 'h':
      case '?':
        say(c, escape_help);
        break;
      case 'c':
        say(c, "\r\nbt386: there is no monitor (Ctrl-A h for the escape keys)\r\n");
        break;
      case 'x': {
        int err = queue_put(c, e, n); /* what came before the quit goes first */
        if (err)
          return err;
        n = 0;
        request_quit(c);
        break;
      }
      default: /* unknown commands are swallowed, as in QEMU */
        break;
      }
    }
  }
  return queue_put(c, e, n);
}

static void *reader_main(void *arg) {
  struct chardev *c = arg;
  struct pollfd p[2] = {{.fd = c->in_fd, .events = POLLIN}, {.fd = c->wake[0], .events = POLLIN}};
  uint8_t buf[256];
  while (!atomic_load(&c->stop)) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents)
      break;
    if (p[0].revents & POLLNVAL)
      break;
    if (!p[0].revents)
      continue;
    ssize_t n = read(c->in_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
      continue;
    if (n <= 0) /* end of input (a closed pipe, ^D on a file): no more from this side */
      break;
    if (take_input(c, buf, (size_t)n) < 0)
      break;
  }
  return NULL;
}

static int start_reader(struct chardev *c) {
  if (pipe(c->wake) < 0)
    return -errno;
  fcntl(c->wake[0], F_SETFD, FD_CLOEXEC);
  fcntl(c->wake[1], F_SETFD, FD_CLOEXEC);
  /* The thread inherits this mask: it takes no asynchronous signals. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&c->reader, NULL, reader_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) {
    close(c->wake[0]);
    close(c->wake[1]);
    c->wake[0] = c->wake[1] = -1;
    return -err;
  }
  c->reader_running = true;
  return 0;
}

static void stop_reader(struct chardev *c) {
  pthread_mutex_lock(&c->lock);
  atomic_store(&c->stop, true);
  pthread_cond_broadcast(&c->space);
  pthread_mutex_unlock(&c->lock);
  if (c->reader_running) {
    ssize_t r;
    do
      r = write(c->wake[1], "", 1);
    while (r < 0 && errno == EINTR);
    pthread_join(c->reader, NULL);
    c->reader_running = false;
  }
  if (c->wake[0] >= 0) {
    close(c->wake[0]);
    close(c->wake[1]);
    c->wake[0] = c->wake[1] = -1;
  }
}

int chardev_init_fd(struct chardev *c, int in_fd, int out_fd, unsigned flags) {
  int err = queue_init(c);
  if (err)
    return err;
  c->ops = &fd_ops;
  c->in_fd = in_fd;
  c->out_fd = out_fd;
  c->close_in = c->close_out = flags & CHARDEV_FD_CLOSE;
  c->escapes = flags & CHARDEV_FD_ESCAPES;
  if (in_fd >= 0) {
    err = start_reader(c);
    if (err) {
      pthread_cond_destroy(&c->space);
      pthread_mutex_destroy(&c->lock);
      return err;
    }
  }
  return 0;
}

int chardev_init_custom(struct chardev *c, const struct chardev_ops *ops, void *priv) {
  int err = queue_init(c);
  if (err)
    return err;
  c->ops = ops;
  c->priv = priv;
  return 0;
}

/* stdio: standard input and output, the terminal raw while bt386 runs. A bt386 started in the
 * background (its process group does not own the terminal) leaves the terminal alone and
 * reads nothing from it: touching it would stop the process with SIGTTOU/SIGTTIN. */
static int stdio_init(struct chardev *c, bool signals) {
  if (tty.active)
    return -EBUSY;
  int in_fd = STDIN_FILENO;
  bool is_tty = isatty(in_fd);
  if (is_tty && tcgetpgrp(in_fd) != getpgrp())
    in_fd = -1;
  /* Raw before the reader starts: a Ctrl-A x it reads at once must find something to undo. */
  bool raw = is_tty && in_fd >= 0;
  if (raw) {
    int err = tty_make_raw(in_fd, signals);
    if (err)
      return err;
  }
  int err = chardev_init_fd(c, in_fd, STDOUT_FILENO, CHARDEV_FD_ESCAPES);
  if (err) {
    if (raw)
      tty_release();
    return err;
  }
  tty.active = 1;
  c->stdio = true;
  c->owns_tty = raw;
  return 0;
}

int chardev_init(struct chardev *c, const struct chardev_spec *spec) {
  switch (spec->kind) {
  case CHARDEV_NULL:
    return chardev_init_fd(c, -1, -1, 0);
  case CHARDEV_STDIO:
    return stdio_init(c, spec->signals);
  case CHARDEV_FILE: {
    int fd = open(spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
      return -errno;
    int err = chardev_init_fd(c, -1, fd, CHARDEV_FD_CLOSE);
    if (err)
      close(fd);
    return err;
  }
  default:
    return -EINVAL;
  }
}

void chardev_exit(struct chardev *c) {
  if (!c->ops)
    return;
  stop_reader(c);
  if (c->owns_tty) {
    tty_release();
    c->owns_tty = false;
  }
  if (c->stdio)
    tty.active = 0;
  if (c->ops->close)
    c->ops->close(c);
  pthread_cond_destroy(&c->space);
  pthread_mutex_destroy(&c->lock);
  c->ops = NULL;
}

ssize_t chardev_write(struct chardev *c, const uint8_t *buf, size_t len) {
  ssize_t n = c->ops->write(c, buf, len);
  if (n > 0)
    c->out_bytes += (uint64_t)n;
  else if (n < 0)
    c->lost_out_bytes += len;
  return n;
}

/* ---- -serial ------------------------------------------------------------------------------ */

static const char supported[] = "use stdio, mon:stdio, file:PATH, null or none";

/* QEMU's other -serial spellings: prefixes, and whole words. */
static const char *const unsupported_prefix[] = {"vc:",  "pipe:", "tcp:",     "telnet:",
                                                 "websocket:", "udp:", "unix:", "chardev:",
                                                 "mon:", "COM",   "/dev/"};
static const char *const unsupported_word[] = {"vc", "pty", "msmouse", "braille"};

static int fail(char *err, size_t errlen, int code, const char *fmt, const char *s) {
  if (errlen)
    snprintf(err, errlen, fmt, s, supported);
  return code;
}

int chardev_parse(const char *s, struct chardev_spec *spec, char *err, size_t errlen) {
  memset(spec, 0, sizeof(*spec));
  if (errlen)
    err[0] = 0;
  if (!strcmp(s, "none")) {
    spec->kind = CHARDEV_NONE;
    return 0;
  }
  if (!strcmp(s, "null")) {
    spec->kind = CHARDEV_NULL;
    return 0;
  }
  if (!strcmp(s, "mon:stdio")) {
    spec->kind = CHARDEV_STDIO;
    return 0;
  }
  if (!strncmp(s, "stdio", 5) && (s[5] == 0 || s[5] == ',')) {
    spec->kind = CHARDEV_STDIO;
    spec->signals = true;
    for (const char *p = s + 5; *p == ',';) {
      const char *opt = p + 1;
      size_t len = strcspn(opt, ",");
      if (len == 10 && !strncmp(opt, "signal=off", 10))
        spec->signals = false;
      else if (len == 9 && !strncmp(opt, "signal=on", 9))
        spec->signals = true;
      else
        return fail(err, errlen, -EINVAL, "-serial %s: stdio takes signal=on or signal=off only",
                    s);
      p = opt + len;
    }
    return 0;
  }
  if (!strncmp(s, "file:", 5)) {
    if (!s[5] || strchr(s + 5, ','))
      return fail(err, errlen, -EINVAL, "-serial %s: give file:PATH (a path without commas)",
                  s);
    spec->kind = CHARDEV_FILE;
    spec->path = s + 5;
    return 0;
  }
  for (size_t i = 0; i < sizeof(unsupported_word) / sizeof(*unsupported_word); i++)
    if (!strcmp(s, unsupported_word[i]))
      return fail(err, errlen, -ENOTSUP, "-serial %s: bt386 does not have this backend; %s", s);
  for (size_t i = 0; i < sizeof(unsupported_prefix) / sizeof(*unsupported_prefix); i++)
    if (!strncmp(s, unsupported_prefix[i], strlen(unsupported_prefix[i])))
      return fail(err, errlen, -ENOTSUP, "-serial %s: bt386 does not have this backend; %s", s);
  return fail(err, errlen, -EINVAL, "-serial %s: unknown backend; %s", s);
}

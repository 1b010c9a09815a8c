/* console.h - character backends ("chardevs") for serial ports: where the bytes a guest sends
 * go, where the bytes it receives come from, and QEMU's -serial spellings for choosing them.
 *
 * A chardev sits between a frontend (a UART, see uart.h) and the host:
 *
 *   guest -> UART -> chardev_write()   -> backend output (terminal, file, nothing)
 *   guest <- UART <- chardev_poll()    <- input queue <- reader thread <- backend input
 *
 * Input: a reader thread, not a poll function. Each backend with an input fd runs one thread
 * that blocks in poll(2) on that fd, turns what it reads into queue entries (bytes, a break,
 * a quit request), appends them to a bounded queue (4 KiB; when it is full the thread stops
 * reading, so the terminal's own buffer holds the rest) and then calls the host's kick
 * callback. The vCPU thread calls chardev_poll() (through uart_poll()) between translated
 * blocks and when the CPU halts; that moves queued bytes into the frontend as far as the
 * frontend can take them. chardev_poll() costs one relaxed atomic load when nothing is queued,
 * so the run loop may call it as often as it likes; it never blocks. The reader thread blocks
 * every signal, so asynchronous signals go to the other threads.
 *
 * Backends (what chardev_parse() accepts, QEMU's spellings):
 *   stdio            standard input and output. A terminal on standard input is put in raw
 *                    mode (no echo, no line editing, output processing kept) and restored by
 *                    chardev_exit(), at exit() and on fatal signals. Ctrl-C, Ctrl-\ and Ctrl-Z
 *                    still signal bt386, as with QEMU's -serial stdio (signal=on).
 *   stdio,signal=off the same, but Ctrl-C and friends go to the guest.
 *   mon:stdio        stdio with signal=off, as QEMU's -nographic sets it up. bt386 has no
 *                    monitor, so this is the terminal and the escape keys below only.
 *   file:PATH        output to PATH (created or truncated); no input.
 *   null             output discarded, no input.
 *   none             no serial port at all: the machine must not create the UART.
 * QEMU's other backends (vc, pty, pipe:, tcp:, telnet:, udp:, unix:, websocket:, chardev:,
 * a host device path, msmouse, braille, spice...) are refused with -ENOTSUP and a message.
 *
 * Escape keys on stdio (escape character Ctrl-A, as QEMU's multiplexer):
 *   Ctrl-A x         quit: the host's quit callback runs on the vCPU thread (the machine stops
 *                    the guest and exits, as QEMU does with status 0). If the machine set no
 *                    quit callback, or a second Ctrl-A x comes before it stopped, bt386
 *                    restores the terminal and ends at once with status 1.
 *   Ctrl-A b         send a break to the guest (Linux: magic SysRq prefix on a serial console)
 *   Ctrl-A h, ?      print this list
 *   Ctrl-A Ctrl-A    send a Ctrl-A to the guest
 *   Ctrl-A c         QEMU switches to its monitor; bt386 has none and says so
 *   Ctrl-A s, t      (QEMU: commit disks, toggle timestamps) not supported, ignored like any
 *                    other key after Ctrl-A
 *
 * Output: chardev_write() writes through at once (write(2) on the backend's fd, blocking until
 * the bytes are taken), so guest output and bt386's own messages never sit in a buffer. */
#ifndef BT386_CONSOLE_H
#define BT386_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum chardev_event {
  CHARDEV_BREAK = 1, /* the line was held in the spacing state: a break */
};

/* Who consumes input: a UART. Called on the vCPU thread only, from chardev_poll(). */
struct chardev_frontend {
  size_t (*can_receive)(void *opaque); /* how many bytes it can take now (0: none) */
  void (*receive)(void *opaque, const uint8_t *buf, size_t len); /* len <= can_receive */
  void (*event)(void *opaque, enum chardev_event ev); /* a break takes a receive slot too */
  void *opaque;
};

/* What the machine provides. */
struct chardev_host {
  /* Any thread (usually the reader): input is queued, make the vCPU call chardev_poll() (via
   * uart_poll()) soon - set the vCPU's pending flag, signal the eventfd a halted CPU sleeps
   * on. Must be thread-safe and must not call back into the chardev. */
  void (*kick)(void *opaque);
  /* vCPU thread, from chardev_poll(): the user asked to quit (Ctrl-A x). May be NULL. */
  void (*quit)(void *opaque);
  void *opaque;
};

struct chardev;

/* A backend of one's own (tests, later sockets), see chardev_init_custom(). */
struct chardev_ops {
  const char *name;
  /* Send len bytes: return how many were taken (0 if the backend is busy: the frontend keeps
   * them and offers them again at its next poll, so a backend that returns 0 must call the
   * host's kick once it can take bytes again), or -errno if they are lost for good. */
  ssize_t (*write)(struct chardev *c, const uint8_t *buf, size_t len);
  void (*close)(struct chardev *c); /* may be NULL */
};

#define CHARDEV_QUEUE 4096

struct chardev {
  const struct chardev_ops *ops;
  void *priv; /* a custom backend's own state */
  struct chardev_frontend fe;
  struct chardev_host host; /* under lock: the reader thread reads it */

  /* The input queue: entries 0..255 are bytes, 0x100 | event are events. */
  pthread_mutex_t lock;
  pthread_cond_t space;
  uint16_t queue[CHARDEV_QUEUE];
  unsigned q_head, q_tail; /* free-running; q_tail - q_head entries are queued */
  atomic_bool pending;     /* entries are queued or a quit is requested */
  atomic_bool quit;        /* Ctrl-A x seen, not yet handed to the host */
  bool quit_seen;          /* a quit was ever requested (a second one forces the exit) */

  /* fd backends (stdio, file:, null, chardev_init_fd) */
  int in_fd, out_fd; /* -1: none */
  bool close_in, close_out;
  bool escapes;      /* Ctrl-A commands on input */
  bool got_escape;   /* reader thread only */
  bool stdio;        /* the stdio backend (there is one at most) */
  bool owns_tty;     /* this chardev put the terminal in raw mode */
  bool reader_running;
  pthread_t reader;
  int wake[2]; /* the reader polls wake[0] too: a byte there means stop */
  atomic_bool stop;

  /* counters */
  uint64_t in_bytes, out_bytes, lost_out_bytes;
};

enum chardev_kind { CHARDEV_NONE, CHARDEV_NULL, CHARDEV_STDIO, CHARDEV_FILE };

struct chardev_spec {
  enum chardev_kind kind;
  bool signals;     /* stdio: the terminal's Ctrl-C, Ctrl-\ and Ctrl-Z signal bt386 */
  const char *path; /* file: PATH, pointing into the string given to chardev_parse() */
};

/* Parse a -serial argument. Returns 0, -EINVAL (not a backend spelling; err says what is
 * accepted) or -ENOTSUP (a QEMU backend bt386 does not have). err is a message without a
 * "bt386:" prefix; errlen may be 0. */
int chardev_parse(const char *s, struct chardev_spec *spec, char *err, size_t errlen);

/* Open the backend spec names (not CHARDEV_NONE: -EINVAL). Returns 0 or -errno; -EBUSY for a
 * second stdio chardev. Prints nothing. */
int chardev_init(struct chardev *c, const struct chardev_spec *spec);

#define CHARDEV_FD_CLOSE 1u   /* chardev_exit() closes the fds */
#define CHARDEV_FD_ESCAPES 2u /* interpret Ctrl-A commands on input */

/* A backend on file descriptors (pipes, files, sockets): input read by a reader thread from
 * in_fd (-1: none), output written to out_fd (-1: discarded). For tests and scripting. */
int chardev_init_fd(struct chardev *c, int in_fd, int out_fd, unsigned flags);

/* A backend whose output goes to ops->write; input through chardev_push_input(). */
int chardev_init_custom(struct chardev *c, const struct chardev_ops *ops, void *priv);

/* Stop the reader thread, close what chardev_init opened, restore the terminal. */
void chardev_exit(struct chardev *c);

/* fe may be NULL (detach). Call on the vCPU thread, or before it runs. */
void chardev_set_frontend(struct chardev *c, const struct chardev_frontend *fe);
/* h may be NULL. Kicks at once if input is already queued. */
void chardev_set_host(struct chardev *c, const struct chardev_host *h);

/* Backend output; see chardev_ops.write for the result. */
ssize_t chardev_write(struct chardev *c, const uint8_t *buf, size_t len);

/* Queue input as if the backend had read it (any thread); blocks while the queue is full.
 * Kicks the host. Returns 0, or -EPIPE once chardev_exit() has begun. */
int chardev_push_input(struct chardev *c, const uint8_t *buf, size_t len);
int chardev_push_event(struct chardev *c, enum chardev_event ev);

/* vCPU thread: hand a requested quit to the host, then move queued input into the frontend
 * while it can take it. Returns whether anything was delivered. */
bool chardev_poll(struct chardev *c);

/* Whether input or a quit request is queued (any thread; a hint, no lock taken). It stays
 * true while the frontend cannot take more, so it is no reason to keep a halted CPU awake:
 * sleep until the kick instead. */
static inline bool chardev_pending(struct chardev *c) {
  return atomic_load_explicit(&c->pending, memory_order_relaxed);
}

/* Put the terminal back as it was before a stdio chardev made it raw. Async-signal-safe and
 * idempotent: call it from a crash path (the SIGSEGV/SIGBUS handler deciding that the monitor
 * itself faulted) before aborting. chardev_exit(), exit() and SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 * SIGPIPE and SIGABRT (where nobody else handles them) call it already; SIGTSTP restores the
 * terminal and SIGCONT makes it raw again. */
void console_restore_terminal(void);

#endif

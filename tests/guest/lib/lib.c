/* lib.c - the runtime of bt386's guest test kernels (see guest.h). */
#include "guest.h"

void putchar_e9(char c) { outb(0xe9, (uint8_t)c); }

void puts_e9(const char *s) {
  while (*s)
    putchar_e9(*s++);
}

void guest_exit(int code) {
  outl(0xf4, (uint32_t)code);
  for (;;)
    __asm__ volatile("cli; hlt");
}

uint32_t boot_magic;
const void *boot_info;

void guest_start(uint32_t magic, void *info) {
  boot_magic = magic;
  boot_info = info;
  guest_exit(main());
}

void *memset(void *d, int c, size_t n) {
  uint8_t *p = d;
  while (n--)
    *p++ = (uint8_t)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *p = d;
  const uint8_t *q = s;
  while (n--)
    *p++ = *q++;
  return d;
}

void *memmove(void *d, const void *s, size_t n) {
  uint8_t *p = d;
  const uint8_t *q = s;
  if (p < q) {
    while (n--)
      *p++ = *q++;
  } else {
    while (n--)
      p[n] = q[n];
  }
  return d;
}

int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *p = a, *q = b;
  for (; n; n--, p++, q++)
    if (*p != *q)
      return *p - *q;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n])
    n++;
  return n;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b)
    a++, b++;
  return (uint8_t)*a - (uint8_t)*b;
}

struct out {
  char *buf;
  size_t n, len;
};

static void put(struct out *o, char c) {
  if (o->len + 1 < o->n)
    o->buf[o->len] = c;
  o->len++;
}

static void put_num(struct out *o, unsigned long long v, int base, int width, char pad, int neg,
                    int upper) {
  char tmp[24];
  int i = 0;
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    tmp[i++] = digits[v % (unsigned)base];
    v /= (unsigned)base;
  } while (v);
  if (neg)
    tmp[i++] = '-';
  for (int w = i; w < width; w++)
    put(o, pad);
  while (i)
    put(o, tmp[--i]);
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) {
  struct out o = {buf, n, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0, lng = 0;
    if (*fmt == '0')
      pad = '0', fmt++;
    while (*fmt >= '0' && *fmt <= '9')
      width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l')
      lng++, fmt++;
    switch (*fmt) {
    case 'd': {
      long long v = lng >= 2 ? va_arg(ap, long long) : va_arg(ap, int);
      put_num(&o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10, width, pad, v < 0, 0);
      break;
    }
    case 'u':
      put_num(&o, lng >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10, width, pad, 0, 0);
      break;
    case 'x':
    case 'X':
      put_num(&o, lng >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16, width, pad, 0,
              *fmt == 'X');
      break;
    case 'c':
      put(&o, (char)va_arg(ap, int));
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      size_t l = strlen(s);
      for (int w = (int)l; w < width; w++)
        put(&o, ' ');
      while (*s)
        put(&o, *s++);
      break;
    }
    case '%':
      put(&o, '%');
      break;
    default:
      put(&o, '?');
      break;
    }
  }
  if (n)
    buf[o.len < n ? o.len : n - 1] = 0;
  return (int)o.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  return r;
}

int printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  puts_e9(buf);
  return r;
}

const char *flags_str(uint32_t flags, uint32_t mask) {
  static char bufs[4][8];
  static int next;
  static const struct { uint32_t bit; char c; } names[6] = {
      {FL_OF, 'O'}, {FL_SF, 'S'}, {FL_ZF, 'Z'}, {FL_AF, 'A'}, {FL_PF, 'P'}, {FL_CF, 'C'}};
  char *b = bufs[next++ & 3];
  for (int i = 0; i < 6; i++)
    b[i] = !(mask & names[i].bit) ? '-' : (flags & names[i].bit) ? names[i].c : names[i].c + 32;
  b[6] = 0;
  return b;
}

void hexdump(const char *what, const void *p, size_t n) {
  const uint8_t *b = p;
  printf("%s:", what);
  for (size_t i = 0; i < n; i++)
    printf(" %02x", b[i]);
  printf("\n");
}

uint32_t crc32_update(uint32_t crc, const void *p, size_t n) {
  const uint8_t *b = p;
  crc = ~crc;
  while (n--) {
    crc ^= *b++;
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
  }
  return ~crc;
}

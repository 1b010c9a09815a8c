/* test_linuxboot.c - the Linux boot-protocol loader: synthetic bzImages with chosen header
 * versions, flags and payloads, checked for the zero page, the e820 map, the command line,
 * the initrd's place, the CPU state of the 32-bit entry and every way a file is refused; and
 * Debian's real 686 kernel when tools/mkguest.sh has fetched it. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/machine.h"

#define RAM (64u << 20)
#define BP 0x10000u
#define KERNEL 0x100000u

static struct machine m;
static char dir[64];
static char kernel_path[96], initrd_path[96];

/* What goes into a synthetic bzImage. */
struct image {
  uint16_t version;
  uint8_t loadflags;
  uint8_t setup_sects;
  unsigned hdr_end;      /* 0x202 + the jump's byte at 0x201 */
  uint32_t payload;      /* bytes of "protected-mode kernel" */
  uint32_t syssize;      /* in bytes; 0: the payload's size */
  uint32_t init_size, initrd_max, cmdline_size;
  uint64_t pref_address;
  uint32_t cut;          /* cut the file to this many bytes (0: no) */
};

static struct image default_image(void) {
  return (struct image){
      .version = 0x020f, .loadflags = 0x01, .setup_sects = 4, .hdr_end = 0x26c,
      .payload = 64 << 10, .init_size = 4 << 20, .initrd_max = 0x7fffffff,
      .cmdline_size = 2047, .pref_address = 0x1000000,
  };
}

static uint8_t payload_byte(uint32_t i) { return (uint8_t)(i * 7 + 3); }

static void put16(uint8_t *p, unsigned off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, unsigned off, uint64_t v) { memcpy(p + off, &v, 8); }
static uint16_t get16(const uint8_t *p, unsigned off) {
  uint16_t v;
  memcpy(&v, p + off, 2);
  return v;
}
static uint32_t get32(const uint8_t *p, unsigned off) {
  uint32_t v;
  memcpy(&v, p + off, 4);
  return v;
}
static uint64_t get64(const uint8_t *p, unsigned off) {
  uint64_t v;
  memcpy(&v, p + off, 8);
  return v;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void make_image(const struct image *im) {
  size_t setup = (size_t)(im->setup_sects ? im->setup_sects : 4) * 512 + 512;
  size_t len = setup + im->payload;
  uint8_t *f = calloc(1, len);
  memset(f + 0x1f1, 0xab, 0x290 - 0x1f1); /* what lies past the header must not be copied */
  f[0x1f1] = im->setup_sects;
  put16(f, 0x1f2, 1);                               /* root_flags */
  put32(f, 0x1f4, (im->syssize ? im->syssize : im->payload + 15) / 16);
  put16(f, 0x1f8, 0);
  put16(f, 0x1fa, 0xfffd);                           /* vid_mode: "ask" */
  put16(f, 0x1fc, 0x0801);                           /* root_dev */
  put16(f, 0x1fe, 0xaa55);
  f[0x200] = 0xeb;
  f[0x201] = (uint8_t)(im->hdr_end - 0x202);
  memcpy(f + 0x202, "HdrS", 4);
  put16(f, 0x206, im->version);
  memset(f + 0x208, 0, im->hdr_end - 0x208);
  put16(f, 0x20e, 0x1234);                           /* kernel_version */
  f[0x211] = im->loadflags;
  put32(f, 0x214, KERNEL);                           /* code32_start */
  if (im->hdr_end >= 0x230)
    put32(f, 0x22c, im->initrd_max);
  if (im->hdr_end >= 0x23c) {
    put32(f, 0x230, 0x1000000);                      /* kernel_alignment */
    f[0x234] = 1;                                    /* relocatable_kernel */
    put32(f, 0x238, im->cmdline_size);
  }
  if (im->hdr_end >= 0x264) {
    put64(f, 0x258, im->pref_address);
    put32(f, 0x260, im->init_size);
  }
  for (uint32_t i = 0; i < im->payload; i++)
    f[setup + i] = payload_byte(i);
  write_file(kernel_path, f, im->cut ? im->cut : len);
  free(f);
}

static void make_initrd(uint32_t size) {
  uint8_t *d = malloc(size ? size : 1);
  for (uint32_t i = 0; i < size; i++)
    d[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5a);
  write_file(initrd_path, d, size);
  free(d);
}

static void new_machine(uint64_t ram) {
  struct machine_config cfg;
  machine_config_default(&cfg);
  cfg.ram_bytes = ram;
  ck_assert_int_eq(machine_init(&m, &cfg), 0);
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/bt386-linuxboot-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(kernel_path, sizeof(kernel_path), "%s/bzImage", dir);
  snprintf(initrd_path, sizeof(initrd_path), "%s/initrd", dir);
  new_machine(RAM);
}

static void teardown(void) {
  machine_exit(&m);
  unlink(kernel_path);
  unlink(initrd_path);
  rmdir(dir);
}

static uint8_t *phys(uint32_t pa, uint32_t len) {
  uint8_t *p = mmu_phys_ptr(&m.mmu, pa, len);
  ck_assert_ptr_nonnull(p);
  return p;
}

static uint8_t *zero_page(void) { return phys(m.cpu.regs[R_ESI], 4096); }

static void load_ok(const char *initrd, const char *cmdline) {
  ck_assert_int_eq(linux_load(&m, kernel_path, initrd, cmdline), 0);
}

/* Load, expect a refusal, and return what bt386 said on stderr. */
static char said[1024];
static const char *load_refused(const char *initrd, const char *cmdline) {
  fflush(stderr);
  int saved = dup(2);
  FILE *log = tmpfile();
  dup2(fileno(log), 2);
  int err = linux_load(&m, kernel_path, initrd, cmdline);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(log);
  size_t n = fread(said, 1, sizeof(said) - 1, log);
  said[n] = 0;
  fclose(log);
  ck_assert_int_lt(err, 0);
  fprintf(stderr, "    (refused as expected: %s", said[0] ? said : "no message\n");
  return said;
}

static bool all_zero(uint32_t pa, uint32_t len) {
  const uint8_t *p = phys(pa, len);
  for (uint32_t i = 0; i < len; i++)
    if (p[i])
      return false;
  return true;
}

/* ---- what a good image gets ---- */

START_TEST(loads_the_protected_mode_kernel_at_1mib) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  const uint8_t *k = phys(KERNEL, im.payload);
  for (uint32_t i = 0; i < im.payload; i++)
    ck_assert_uint_eq(k[i], payload_byte(i));
  ck_assert_uint_eq(phys(KERNEL - 1, 1)[0], 0);
  ck_assert_uint_eq(phys(KERNEL + im.payload, 1)[0], 0);
}
END_TEST

START_TEST(setup_sects_zero_means_four) {
  struct image im = default_image();
  im.setup_sects = 0;
  make_image(&im);
  load_ok(NULL, "");
  ck_assert_uint_eq(phys(KERNEL, 1)[0], payload_byte(0));
}
END_TEST

START_TEST(zero_page_holds_the_image_setup_header) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  const uint8_t *bp = zero_page();
  ck_assert_uint_eq(m.cpu.regs[R_ESI], BP);
  ck_assert_mem_eq(bp + 0x202, "HdrS", 4);
  ck_assert_uint_eq(get16(bp, 0x206), 0x020f);
  ck_assert_uint_eq(bp[0x1f1], 4);
  ck_assert_uint_eq(get16(bp, 0x1fc), 0x0801);
  ck_assert_uint_eq(get16(bp, 0x1fe), 0xaa55);
  ck_assert_uint_eq(get16(bp, 0x20e), 0x1234);
  ck_assert_uint_eq(get32(bp, 0x230), 0x1000000);
  ck_assert_uint_eq(get32(bp, 0x238), 2047);
  ck_assert_uint_eq(get32(bp, 0x260), 4u << 20);
  /* Nothing of the image outside the header; all else zero but what the loader fills in. */
  ck_assert(all_zero(BP, 0x1e0));
  ck_assert_uint_eq(bp[0x26c], 0);
  ck_assert_uint_eq(bp[0x28f], 0);
}
END_TEST

START_TEST(loader_fields) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  const uint8_t *bp = zero_page();
  ck_assert_uint_eq(bp[0x210], 0xff);              /* type_of_loader: undefined */
  ck_assert_uint_eq(bp[0x211], 0x81);              /* LOADED_HIGH | CAN_USE_HEAP */
  ck_assert_uint_eq(get16(bp, 0x224), 0xe000 - 0x200); /* heap_end_ptr */
  ck_assert_uint_eq(get32(bp, 0x214), KERNEL);     /* code32_start */
  ck_assert_uint_eq(get16(bp, 0x1fa), 0xffff);     /* vid_mode: normal */
  ck_assert_uint_eq(get32(bp, 0x1e0), (RAM - KERNEL) >> 10); /* alt_mem_k */
}
END_TEST

START_TEST(header_ends_where_its_jump_says) {
  struct image im = default_image();
  im.version = 0x0202;
  im.hdr_end = 0x22c; /* protocol 2.02 ends after cmd_line_ptr */
  make_image(&im);
  load_ok(NULL, "console=ttyS0");
  const uint8_t *bp = zero_page();
  ck_assert_uint_eq(get16(bp, 0x206), 0x0202);
  ck_assert_uint_eq(get32(bp, 0x228), 0x20000);
  ck_assert(all_zero(BP + 0x22c, 0x290 - 0x22c)); /* the image has 0xab there */
}
END_TEST

START_TEST(e820_map_matches_ram_with_the_bios_area_reserved) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  const uint8_t *bp = zero_page();
  ck_assert_uint_eq(bp[0x1e8], 3);
  const struct { uint64_t addr, size; uint32_t type; } want[] = {
      {0, 0x9f000, 1}, {0x9f000, 0x61000, 2}, {0x100000, RAM - 0x100000, 1}};
  for (int i = 0; i < 3; i++) {
    const uint8_t *e = bp + 0x2d0 + 20 * i;
    ck_assert_uint_eq(get64(e, 0), want[i].addr);
    ck_assert_uint_eq(get64(e, 8), want[i].size);
    ck_assert_uint_eq(get32(e, 16), want[i].type);
  }
  ck_assert(all_zero(BP + 0x2d0 + 60, 20));
}
END_TEST

START_TEST(command_line) {
  struct image im = default_image();
  make_image(&im);
  const char *cmd = "console=ttyS0 root=/dev/sda rw init=/bin/sh";
  load_ok(NULL, cmd);
  uint32_t ptr = get32(zero_page(), 0x228);
  ck_assert_uint_ge(ptr, 0x10000 + 4096);
  ck_assert_uint_lt(ptr + strlen(cmd) + 1, 0x9f000);
  ck_assert_str_eq((const char *)phys(ptr, strlen(cmd) + 1), cmd);
}
END_TEST

START_TEST(empty_command_line) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, NULL);
  uint32_t ptr = get32(zero_page(), 0x228);
  ck_assert_uint_ne(ptr, 0);
  ck_assert_uint_eq(phys(ptr, 1)[0], 0);
}
END_TEST

START_TEST(no_initrd_leaves_the_ramdisk_fields_zero) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  ck_assert_uint_eq(get32(zero_page(), 0x218), 0);
  ck_assert_uint_eq(get32(zero_page(), 0x21c), 0);
}
END_TEST

START_TEST(initrd_goes_high_page_aligned) {
  struct image im = default_image();
  make_image(&im);
  uint32_t size = 3 * 4096 + 123;
  make_initrd(size);
  load_ok(initrd_path, "");
  const uint8_t *bp = zero_page();
  uint32_t at = get32(bp, 0x218);
  ck_assert_uint_eq(get32(bp, 0x21c), size);
  ck_assert_uint_eq(at % 4096, 0);
  ck_assert_uint_le(at + size, RAM);
  ck_assert_uint_gt(at + size, RAM - 4096); /* as high as alignment allows */
  ck_assert_uint_ge(at, 0x1000000 + (4u << 20)); /* above pref_address + init_size */
  const uint8_t *d = phys(at, size);
  for (uint32_t i = 0; i < size; i++)
    ck_assert_uint_eq(d[i], (uint8_t)(i ^ (i >> 8) ^ 0x5a));
}
END_TEST

START_TEST(initrd_stays_below_initrd_addr_max) {
  struct image im = default_image();
  im.initrd_max = 0x1ffffff; /* 32 MiB - 1 */
  make_image(&im);
  make_initrd(100000);
  load_ok(initrd_path, "");
  uint32_t at = get32(zero_page(), 0x218);
  ck_assert_uint_le(at + 100000, 0x2000000);
  ck_assert_uint_gt(at + 100000, 0x2000000 - 4096);
}
END_TEST

START_TEST(protocol_2_02_initrd_limit_is_0x37ffffff) {
  struct image im = default_image();
  im.version = 0x0202;
  im.hdr_end = 0x22c;
  make_image(&im);
  make_initrd(5000);
  load_ok(initrd_path, ""); /* 64 MiB of RAM is below the limit */
  ck_assert_uint_gt(get32(zero_page(), 0x218) + 5000, RAM - 4096);
}
END_TEST

START_TEST(cpu_state_for_the_32bit_entry) {
  struct image im = default_image();
  make_image(&im);
  m.cpu.regs[R_EBX] = m.cpu.regs[R_EBP] = m.cpu.regs[R_EDI] = 0xdeadbeef;
  load_ok(NULL, "");
  struct cpu *c = &m.cpu;
  ck_assert_uint_eq(c->eip, KERNEL);
  ck_assert_uint_eq(c->regs[R_ESI], BP);
  ck_assert_uint_eq(c->regs[R_EBP], 0);
  ck_assert_uint_eq(c->regs[R_EDI], 0);
  ck_assert_uint_eq(c->regs[R_EBX], 0);
  ck_assert_uint_eq(cpu_get_eflags(c) & FL_IF, 0);
  ck_assert_uint_eq(c->vif, 0);
  ck_assert(c->cr0 & CR0_PE);
  ck_assert(!(c->cr0 & CR0_PG));
  ck_assert_int_eq(c->cpl, 0);
  ck_assert_uint_eq(c->seg[SEG_CS].sel, 0x10);
  ck_assert(c->seg[SEG_CS].attr & 0x8);    /* code */
  ck_assert(c->seg[SEG_CS].attr & SEGA_DB); /* 32-bit */
  const int data[] = {SEG_DS, SEG_ES, SEG_SS};
  for (int i = 0; i < 3; i++) {
    ck_assert_uint_eq(c->seg[data[i]].sel, 0x18);
    ck_assert(!(c->seg[data[i]].attr & 0x8)); /* data */
    ck_assert(c->seg[data[i]].attr & 0x2);    /* writable */
  }
  for (int s = 0; s < SEG_COUNT; s++) {
    ck_assert_uint_eq(c->seg[s].base, 0);
    ck_assert_uint_eq(c->seg[s].limit, 0xffffffffu);
    ck_assert(c->seg[s].attr & SEGA_P);
  }
  ck_assert(!c->pending.valid);
}
END_TEST

START_TEST(gdt_in_guest_memory_holds_boot_cs_and_boot_ds) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  struct cpu *c = &m.cpu;
  ck_assert_uint_ge(c->gdtr.limit, 0x1f);
  const uint8_t *gdt = phys(c->gdtr.base, 32);
  /* Flat 4 GiB: base 0, limit 0xfffff in 4 KiB units, 32-bit, present, ring 0. */
  ck_assert_uint_eq(get64(gdt, 0x10) & ~(1ull << 40), 0x00cf9a000000ffffull);
  ck_assert_uint_eq(get64(gdt, 0x18) & ~(1ull << 40), 0x00cf92000000ffffull);
  /* Nothing else in low memory overlaps it. */
  ck_assert_uint_ge(c->gdtr.base + 32, 0x500);
  ck_assert(c->gdtr.base + 32 <= BP || c->gdtr.base >= BP + 4096);
}
END_TEST

START_TEST(reloading_the_boot_selectors_from_the_gdt_gives_the_same_segments) {
  struct image im = default_image();
  make_image(&im);
  load_ok(NULL, "");
  struct segment ds = m.cpu.seg[SEG_DS];
  ck_assert(cpu_load_segment(&m.cpu, SEG_ES, 0x18));
  ck_assert_uint_eq(m.cpu.seg[SEG_ES].base, ds.base);
  ck_assert_uint_eq(m.cpu.seg[SEG_ES].limit, ds.limit);
  ck_assert_uint_eq(m.cpu.seg[SEG_ES].attr, ds.attr);
  ck_assert(cpu_far_jump(&m.cpu, 0x10, KERNEL));
}
END_TEST

/* ---- what is refused, and that a refused file changes nothing ---- */

START_TEST(refuses_protocol_older_than_2_02) {
  struct image im = default_image();
  im.version = 0x0201;
  im.hdr_end = 0x228;
  make_image(&im);
  const char *msg = load_refused(NULL, "");
  ck_assert_ptr_nonnull(strstr(msg, "2.01"));
  ck_assert_ptr_nonnull(strstr(msg, "2.02 or later"));
  ck_assert(all_zero(KERNEL, 4096));
  ck_assert(all_zero(BP, 4096));
}
END_TEST

START_TEST(refuses_a_zimage) {
  struct image im = default_image();
  im.loadflags = 0;
  make_image(&im);
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "LOADED_HIGH"));
  ck_assert(all_zero(KERNEL, 4096));
}
END_TEST

START_TEST(refuses_a_file_cut_inside_the_setup_code) {
  struct image im = default_image();
  im.cut = 0x600;
  make_image(&im);
  const char *msg = load_refused(NULL, "");
  ck_assert_ptr_nonnull(strstr(msg, "truncated"));
  ck_assert_ptr_nonnull(strstr(msg, "1536 bytes"));
}
END_TEST

START_TEST(refuses_a_file_shorter_than_its_header_says) {
  struct image im = default_image();
  im.cut = 5 * 512 + im.payload - 4096;
  make_image(&im);
  const char *msg = load_refused(NULL, "");
  ck_assert_ptr_nonnull(strstr(msg, "truncated"));
  ck_assert(all_zero(KERNEL, 4096));
}
END_TEST

START_TEST(refuses_a_file_cut_inside_the_header) {
  struct image im = default_image();
  im.cut = 0x100;
  make_image(&im);
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "neither a Linux bzImage"));
}
END_TEST

START_TEST(refuses_what_is_not_a_kernel) {
  const char text[] = "#!/bin/sh\necho this is not a kernel\n";
  write_file(kernel_path, text, sizeof(text));
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "neither a Linux bzImage"));
  ck_assert_int_eq(kernel_format(kernel_path), KERNEL_UNKNOWN);
}
END_TEST

START_TEST(refuses_an_empty_file) {
  write_file(kernel_path, "", 0);
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "empty"));
}
END_TEST

START_TEST(refuses_a_boot_sector_without_a_setup_header) {
  uint8_t f[4096] = {0};
  f[0x1fe] = 0x55;
  f[0x1ff] = 0xaa;
  write_file(kernel_path, f, sizeof(f));
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "older than boot protocol 2.00"));
}
END_TEST

START_TEST(refuses_an_elf_file_and_says_so) {
  uint8_t f[1024] = {0x7f, 'E', 'L', 'F', 1, 1, 1};
  write_file(kernel_path, f, sizeof(f));
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "ELF"));
  ck_assert_int_eq(kernel_format(kernel_path), KERNEL_ELF);
}
END_TEST

START_TEST(refuses_a_missing_file) {
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, ""), "cannot open kernel"));
  ck_assert_int_lt(kernel_format(kernel_path), 0);
}
END_TEST

START_TEST(refuses_a_kernel_that_does_not_fit_in_ram) {
  struct image im = default_image();
  im.init_size = 60u << 20; /* 16 MiB + 60 MiB > 64 MiB */
  make_image(&im);
  const char *msg = load_refused(NULL, "");
  ck_assert_ptr_nonnull(strstr(msg, "76.0 MiB"));
  ck_assert_ptr_nonnull(strstr(msg, "-m"));
  ck_assert(all_zero(KERNEL, 4096));
}
END_TEST

START_TEST(refuses_an_initrd_too_big_for_ram) {
  struct image im = default_image();
  make_image(&im);
  /* Free above the kernel (16 MiB + 4 MiB): 44 MiB. */
  make_initrd((44u << 20) + 1);
  const char *msg = load_refused(initrd_path, "");
  ck_assert_ptr_nonnull(strstr(msg, "46137345 bytes"));   /* the initrd */
  ck_assert_ptr_nonnull(strstr(msg, "46137344 bytes"));   /* the room */
  ck_assert_ptr_nonnull(strstr(msg, "the end of RAM"));
  ck_assert(all_zero(KERNEL, 4096));
  ck_assert(all_zero(BP, 4096));
}
END_TEST

START_TEST(an_initrd_that_just_fits_is_taken) {
  struct image im = default_image();
  make_image(&im);
  make_initrd(44u << 20);
  load_ok(initrd_path, "");
  ck_assert_uint_eq(get32(zero_page(), 0x218), 20u << 20);
}
END_TEST

START_TEST(refuses_an_initrd_above_initrd_addr_max) {
  struct image im = default_image();
  im.initrd_max = 0x15fffff; /* 22 MiB - 1: 2 MiB above the kernel's 20 MiB */
  make_image(&im);
  make_initrd(3u << 20);
  const char *msg = load_refused(initrd_path, "");
  ck_assert_ptr_nonnull(strstr(msg, "3145728 bytes"));
  ck_assert_ptr_nonnull(strstr(msg, "initrd_addr_max"));
}
END_TEST

START_TEST(refuses_a_missing_or_empty_initrd) {
  struct image im = default_image();
  make_image(&im);
  ck_assert_ptr_nonnull(strstr(load_refused(initrd_path, ""), "cannot open initrd"));
  make_initrd(0);
  ck_assert_ptr_nonnull(strstr(load_refused(initrd_path, ""), "empty"));
}
END_TEST

START_TEST(refuses_a_command_line_longer_than_cmdline_size) {
  struct image im = default_image();
  im.cmdline_size = 16;
  make_image(&im);
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, "console=ttyS0 quiet"), "at most 16"));
  load_ok(NULL, "console=ttyS0 q"); /* 15 */
}
END_TEST

START_TEST(protocol_2_05_takes_255_bytes_of_command_line) {
  struct image im = default_image();
  im.version = 0x0205;
  im.hdr_end = 0x238;
  make_image(&im);
  char cmd[300];
  memset(cmd, 'x', sizeof(cmd) - 1);
  cmd[sizeof(cmd) - 1] = 0;
  ck_assert_ptr_nonnull(strstr(load_refused(NULL, cmd), "at most 255"));
  cmd[255] = 0;
  load_ok(NULL, cmd);
}
END_TEST

START_TEST(kernel_format_tells_a_bzimage) {
  struct image im = default_image();
  make_image(&im);
  ck_assert_int_eq(kernel_format(kernel_path), KERNEL_BZIMAGE);
}
END_TEST

/* ---- Debian's kernel, when tools/mkguest.sh has fetched it ---- */

static void guest_file(char *buf, size_t len, const char *name) {
  const char *env = getenv("BT386_GUEST_DIR");
  if (env && *env) {
    snprintf(buf, len, "%s/%s", env, name);
    return;
  }
  /* The source tree's build/guest, found from this file's path. */
  char root[512];
  snprintf(root, sizeof(root), "%s", __FILE__);
  char *cut = strstr(root, "/tests/unit/");
  if (cut)
    *cut = 0;
  else
    snprintf(root, sizeof(root), ".");
  snprintf(buf, len, "%s/build/guest/%s", root, name);
}

START_TEST(debian_686_kernel) {
  char vmlinuz[600], initramfs[600];
  guest_file(vmlinuz, sizeof(vmlinuz), "vmlinuz");
  guest_file(initramfs, sizeof(initramfs), "initramfs.cpio.gz");
  struct stat ks, is;
  if (stat(vmlinuz, &ks) < 0 || stat(initramfs, &is) < 0) {
    printf("test_linuxboot: SKIPPED debian_686_kernel: %s or %s not found "
           "(tools/mkguest.sh fetches them; BT386_GUEST_DIR points elsewhere)\n",
           vmlinuz, initramfs);
    return;
  }
  machine_exit(&m); /* the fixture's 64 MiB machine: the kernel wants more */
  new_machine(256u << 20);
  const char *cmd = "console=ttyS0 earlyprintk=serial";
  ck_assert_int_eq(linux_load(&m, vmlinuz, initramfs, cmd), 0);

  FILE *f = fopen(vmlinuz, "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t *file = malloc((size_t)ks.st_size);
  ck_assert_uint_eq(fread(file, 1, (size_t)ks.st_size, f), (size_t)ks.st_size);
  fclose(f);
  const uint8_t *bp = zero_page();
  ck_assert_uint_ge(get16(bp, 0x206), 0x020f); /* Linux 6.1: protocol 2.15 */
  ck_assert_uint_eq(get16(bp, 0x206), get16(file, 0x206));
  ck_assert_mem_eq(bp + 0x1f1, file + 0x1f1, 0x210 - 0x1f1);
  unsigned setup = (file[0x1f1] ? file[0x1f1] : 4) * 512u + 512;
  size_t kernel_len = (size_t)ks.st_size - setup;
  ck_assert_mem_eq(phys(KERNEL, (uint32_t)kernel_len), file + setup, kernel_len);
  ck_assert_str_eq((const char *)phys(get32(bp, 0x228), strlen(cmd) + 1), cmd);

  uint32_t at = get32(bp, 0x218), size = get32(bp, 0x21c);
  ck_assert_uint_eq(size, (uint32_t)is.st_size);
  uint64_t kernel_end = get64(file, 0x258) + get32(file, 0x260);
  ck_assert_uint_ge(at, kernel_end);
  ck_assert_uint_le((uint64_t)at + size, get32(file, 0x22c) + 1ull);
  ck_assert_uint_eq(phys(at, 2)[0], 0x1f); /* gzip */
  ck_assert_uint_eq(phys(at, 2)[1], 0x8b);
  ck_assert_uint_eq(m.cpu.eip, get32(file, 0x214));
  ck_assert_uint_eq(m.cpu.regs[R_ESI], BP);
  printf("test_linuxboot: debian_686_kernel: protocol %u.%02u, %zu KiB at 1 MiB, initrd %u KiB "
         "at 0x%x, kernel_end 0x%llx\n",
         get16(bp, 0x206) >> 8, get16(bp, 0x206) & 0xff, kernel_len >> 10, size >> 10, at,
         (unsigned long long)kernel_end);
  free(file);
}
END_TEST

int main(void) {
  Suite *s = suite_create("linuxboot");
  TCase *good = tcase_create("load");
  tcase_add_checked_fixture(good, setup, teardown);
  tcase_add_test(good, loads_the_protected_mode_kernel_at_1mib);
  tcase_add_test(good, setup_sects_zero_means_four);
  tcase_add_test(good, zero_page_holds_the_image_setup_header);
  tcase_add_test(good, loader_fields);
  tcase_add_test(good, header_ends_where_its_jump_says);
  tcase_add_test(good, e820_map_matches_ram_with_the_bios_area_reserved);
  tcase_add_test(good, command_line);
  tcase_add_test(good, empty_command_line);
  tcase_add_test(good, no_initrd_leaves_the_ramdisk_fields_zero);
  tcase_add_test(good, initrd_goes_high_page_aligned);
  tcase_add_test(good, initrd_stays_below_initrd_addr_max);
  tcase_add_test(good, protocol_2_02_initrd_limit_is_0x37ffffff);
  tcase_add_test(good, an_initrd_that_just_fits_is_taken);
  tcase_add_test(good, cpu_state_for_the_32bit_entry);
  tcase_add_test(good, gdt_in_guest_memory_holds_boot_cs_and_boot_ds);
  tcase_add_test(good, reloading_the_boot_selectors_from_the_gdt_gives_the_same_segments);
  tcase_add_test(good, kernel_format_tells_a_bzimage);
  suite_add_tcase(s, good);

  TCase *bad = tcase_create("refuse");
  tcase_add_checked_fixture(bad, setup, teardown);
  tcase_add_test(bad, refuses_protocol_older_than_2_02);
  tcase_add_test(bad, refuses_a_zimage);
  tcase_add_test(bad, refuses_a_file_cut_inside_the_setup_code);
  tcase_add_test(bad, refuses_a_file_shorter_than_its_header_says);
  tcase_add_test(bad, refuses_a_file_cut_inside_the_header);
  tcase_add_test(bad, refuses_what_is_not_a_kernel);
  tcase_add_test(bad, refuses_an_empty_file);
  tcase_add_test(bad, refuses_a_boot_sector_without_a_setup_header);
  tcase_add_test(bad, refuses_an_elf_file_and_says_so);
  tcase_add_test(bad, refuses_a_missing_file);
  tcase_add_test(bad, refuses_a_kernel_that_does_not_fit_in_ram);
  tcase_add_test(bad, refuses_an_initrd_too_big_for_ram);
  tcase_add_test(bad, refuses_an_initrd_above_initrd_addr_max);
  tcase_add_test(bad, refuses_a_missing_or_empty_initrd);
  tcase_add_test(bad, refuses_a_command_line_longer_than_cmdline_size);
  tcase_add_test(bad, protocol_2_05_takes_255_bytes_of_command_line);
  suite_add_tcase(s, bad);

  TCase *real = tcase_create("debian");
  tcase_add_checked_fixture(real, setup, teardown);
  tcase_add_test(real, debian_686_kernel);
  suite_add_tcase(s, real);

  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tc.c - the translation cache: where blocks live, how they are found, chained and dropped.
 *
 * Host code goes into one executable area, block records and side tables into a second,
 * both filled front to back; when either is full everything is flushed at once (the
 * simplest policy that keeps chaining cheap: no block ever points into freed code).
 * Blocks are found by (guest EIP, translation key, physical page) in a hash table; each
 * guest physical page lists the blocks made from it, so a write there drops exactly those. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"
#include "mmu/walk.h"
#include "translator/emit.h"
#include "translator/tc.h"

#define META_FRACTION 2 /* metadata area = code area / META_FRACTION */

void tc_config_default(struct tc_config *cfg) {
  cfg->code_bytes = 64u << 20;
  cfg->max_block_insns = 128;
  cfg->chain = true;
  cfg->jcache = true;
  cfg->count_indirect = false;
  cfg->phase_mark = TC_PHASE_RING3;
  cfg->phase_at = 0;
}

uint32_t tc_key(const struct cpu *cpu) {
  uint32_t key = (uint32_t)cpu->cpl & KEY_CPL_MASK;
  if (!cpu_segs_flat(cpu))
    key |= KEY_NONFLAT;
  if (!(cpu->cr4 & CR4_OSFXSR))
    key |= KEY_NO_SSE;
  if (cpu->cr0 & CR0_TS)
    key |= KEY_FPU_TS | ((cpu->cr0 & CR0_MP) ? 0 : KEY_WAIT_GO);
  if (cpu->cr0 & CR0_EM)
    key |= KEY_FPU_EM;
  if (cpu->seg[SEG_CS].base != 0 || cpu->seg[SEG_CS].limit != UINT32_MAX)
    key |= KEY_CS_BASED;
  if (cpu->eflags & FL_TF)
    key |= KEY_TF;
  if (cpu->eflags & FL_RF)
    key |= KEY_RF;
  if (!(cpu->seg[SEG_CS].attr & SEGA_DB))
    key |= KEY_CODE16;
  if (!(cpu->seg[SEG_SS].attr & SEGA_DB))
    key |= KEY_STACK16;
  if (cpu_has_data_breakpoints(cpu))
    key |= KEY_WATCH;
  return key;
}

static int view_of(const struct tb *tb) { return (tb->key & KEY_CPL_MASK) == 3; }

/* Both multiplied, so that the key's low bits reach the top bits the hash keeps: blocks of one
 * EIP under several keys (CPL, CR0.TS) go to different buckets. */
static uint32_t hash_of(uint32_t eip, uint32_t key) {
  return (eip * 0x9e3779b1u ^ key * 0x85ebca6bu) >> (32 - TB_HASH_BITS);
}

void *tc_meta_alloc(struct tcache *tc, size_t size) {
  size = (size + 15) & ~(size_t)15;
  if ((size_t)(tc->meta_end - tc->meta_ptr) < size)
    return NULL;
  void *p = tc->meta_ptr;
  tc->meta_ptr += size;
  return p;
}

/* An entry that can never match: its EIP's low bits differ from its index. */
static void jcache_clear(uint32_t *jc) {
  for (uint32_t i = 0; i < JC_SIZE; i++)
    jc[i] = i ^ 1;
}

int tc_jcache_slot(uint32_t key) {
  return (int)(key & KEY_CPL_MASK) | ((key & KEY_NO_SSE) ? 4 : 0) | ((key & KEY_FPU_TS) ? 8 : 0);
}

/* Note that something reached through linear addresses (a chain into another page, an
 * indirect-branch cache entry) leads into tb: a mapping change of its pages must undo it. */
static void reached_through(struct tcache *tc, const struct tb *tb) {
  uint8_t *lin = tc->code_lin[view_of(tb)];
  uint32_t first = tb_linear(tb) >> PAGE_SHIFT, last = tb_last_page(tb);
  lin[first / 8] |= (uint8_t)(1u << (first % 8));
  lin[last / 8] |= (uint8_t)(1u << (last % 8));
  tc->code_lin_set[view_of(tb)] = true;
}

static void jc_pages_note(struct jc_pages *jp, uint32_t lin, uint32_t ppn) {
  for (uint32_t i = jp->n; i-- > 0;)
    if (jp->lin[i] == lin && jp->ppn[i] == ppn)
      return;
  if (jp->n == JC_PAGES) {
    jp->overflow = true;
    return;
  }
  jp->lin[jp->n] = lin;
  jp->ppn[jp->n++] = ppn;
}

/* Enter tb (whose first page is global, or paging is off, if global) in its mode's
 * indirect-branch cache, noting the non-global pages the entry relies on. */
void tc_jcache_fill(struct tcache *tc, const struct tb *tb, bool global) {
  int slot = tc_jcache_slot(tb->key);
  uint32_t *jc = tc->jcache[slot];
  uint32_t i = tb->eip & (JC_SIZE - 1);
  jc[i] = tb->eip;
  memcpy((uint8_t *)jc + JC_SIZE * 4 + (size_t)i * 8, &tb->code, 8);
  struct jc_pages *jp = &tc->jc_pages[slot];
  jp->used = true;
  reached_through(tc, tb);
  uint32_t first = tb->eip >> PAGE_SHIFT, last = tb_last_page(tb); /* flat: eip is linear */
  if (global)
    jp->global_entries = true;
  else
    jc_pages_note(jp, first, tb->page[0]);
  if (last != first && (tc->cpu->cr0 & CR0_PG))
    jc_pages_note(jp, last, tb->page[1]);
}

/* Take entry i off the list (the last one takes its place). */
static void jc_pages_remove(struct jc_pages *jp, uint32_t i) {
  jp->n--;
  jp->lin[i] = jp->lin[jp->n];
  jp->ppn[i] = jp->ppn[jp->n];
}

/* Might the slot have entries into linear page lin (and so must they be looked for)? Not if
 * its pages are all listed and lin is not among them; if it is, it leaves the list. */
static bool jc_pages_drop(struct jc_pages *jp, uint32_t lin) {
  bool found = jp->overflow || jp->global_entries;
  for (uint32_t i = 0; i < jp->n;) {
    if (jp->lin[i] != lin) {
      i++;
      continue;
    }
    found = true;
    jc_pages_remove(jp, i);
  }
  return found;
}

static void jcache_clear_slot(struct tcache *tc, int slot) {
  jcache_clear(tc->jcache[slot]);
  tc->jc_pages[slot] = (struct jc_pages){0};
}

/* Drop a cache's entries for guest EIPs in linear page lin: being direct-mapped by the low
 * bits of the EIP, it holds them only at the 4 KiB of indices the page's low bits select. */
static void jcache_forget_page(uint32_t *jc, uint32_t lin) {
  uint32_t first = (lin << PAGE_SHIFT) & (JC_SIZE - 1);
  for (uint32_t i = first; i < first + PAGE_SIZE; i++)
    if (jc[i] >> PAGE_SHIFT == lin)
      jc[i] = i ^ 1;
}

/* ... and of the blocks that run into lin from the page before. */
static void jcache_forget_code_in(struct tcache *tc, int slot, uint32_t lin) {
  jcache_forget_page(tc->jcache[slot], lin);
  jcache_forget_page(tc->jcache[slot], lin - 1);
  tc->stats.mapchg_jcache_pages++;
}

/* Is the slot one of the view's modes, with entries? */
static bool slot_used_in(const struct tcache *tc, int slot, int view) {
  return ((slot & KEY_CPL_MASK) == 3) == (view == 1) && tc->jc_pages[slot].used;
}

/* After a mov cr3: the non-global pages the slot's entries lead into that no longer map the
 * frame their code was translated from (with the rights the mode needs to fetch), or whose
 * A bit is clear (the fetch after a flush must set it: SDM vol. 3A, 4.8), lose their
 * entries, and those of the page before (a block that runs into the page starts there); the
 * rest of the cache stays. False: clear it all, as the pages are not all known, or so many
 * changed (another program at the same addresses) that a clear costs less than the search. */
#define JC_FORGET_PAGES_MAX 4u
static bool jc_revalidate(struct tcache *tc, int slot) {
  struct jc_pages *jp = &tc->jc_pages[slot];
  if (jp->overflow)
    return false;
  bool user = (slot & KEY_CPL_MASK) == 3;
  uint32_t changed[JC_FORGET_PAGES_MAX], n_changed = 0;
  for (uint32_t i = 0; i < jp->n;) {
    struct walk w;
    if (page_peek(tc->mmu, tc->cpu, jp->lin[i] << PAGE_SHIFT, &w) &&
        (w.pa >> PAGE_SHIFT) == jp->ppn[i] && (!user || w.user) && w.executable && w.accessed) {
      i++;
      continue;
    }
    if (n_changed == JC_FORGET_PAGES_MAX)
      return false;
    changed[n_changed++] = jp->lin[i];
    jc_pages_remove(jp, i);
  }
  for (uint32_t i = 0; i < n_changed; i++)
    jcache_forget_code_in(tc, slot, changed[i]);
  return true;
}

static void jcache_forget(struct tcache *tc, const struct tb *tb) {
  uint32_t i = tb->eip & (JC_SIZE - 1);
  for (int slot = 0; slot < JC_SLOTS; slot++) {
    uint32_t *jc = tc->jcache[slot];
    const uint8_t *host;
    memcpy(&host, (uint8_t *)jc + JC_SIZE * 4 + (size_t)i * 8, 8);
    if (jc[i] == tb->eip && host == tb->code)
      jc[i] = i ^ 1;
  }
}

/* Drop every block: the cache is full (full) or someone asked (tc_flush). */
static void flush(struct tcache *tc, bool full) {
  uint64_t dropped = 0;
  for (size_t i = 0; i < tc->n_blocks; i++) {
    struct tb *tb = tc->blocks[i];
    if (!tb->cached)
      continue;
    dropped += tb->valid;
    for (int p = 0; p < 2; p++)
      if (tb->page[p] < tc->mmu->npages)
        mmu_unprotect_code(tc->mmu, tb->page[p]);
  }
  tc_stats_flushing(tc); /* keep the flushed blocks' entry counts */
  tc->n_blocks = 0;
  memset(tc->hash, 0, sizeof(tc->hash));
  memset(tc->page_blocks, 0, sizeof(struct tb *) * tc->mmu->npages);
  for (int slot = 0; slot < JC_SLOTS; slot++)
    jcache_clear_slot(tc, slot);
  tc->code_ptr = tc->code;
  tc->meta_ptr = tc->meta;
  tc->cross[0] = tc->cross[1] = NULL;
  tc->span_local[0] = tc->span_local[1] = 0;
  /* Code pages are no longer watched: what is learned about device-memory instructions
   * would not be told when their code changes. It is learned again, a fault each. */
  memset(tc->mmio_insns, 0, sizeof(tc->mmio_insns));
  memset(tc->mmio_pages, 0, tc->mmu->npages);
  for (int v = 0; v < 2; v++)
    memset(tc->code_lin[v], 0, (1u << 20) / 8);
  tc->generation++;
  tc->stats.flushes++;
  tc->stats.invalidated_blocks += dropped;
  if (full) {
    tc->stats.flushes_full++;
    tc->stats.inval_full += dropped;
  } else {
    tc->stats.flushes_explicit++;
    tc->stats.inval_explicit += dropped;
  }
  tc->live_blocks = 0;
  tc_stats_sample(tc);
}

void tc_flush(struct tcache *tc) { flush(tc, false); }

/* Was tb translated for CS as the CPU has it now? (Only KEY_CS_BASED blocks can differ.) */
static bool same_code_segment(const struct tb *tb, const struct cpu *cpu) {
  return tb->cs_base == cpu->seg[SEG_CS].base && tb->cs_limit == cpu->seg[SEG_CS].limit;
}

static bool matches(struct tcache *tc, const struct tb *tb, uint32_t eip, uint32_t key,
                    uint32_t page) {
  return tb->eip == eip && tb->key == key && tb->page[0] == page &&
         (!(key & KEY_CS_BASED) || same_code_segment(tb, tc->cpu));
}

struct tb *tc_find(struct tcache *tc, uint32_t eip, uint32_t key, uint32_t page) {
  for (struct tb *tb = tc->hash[hash_of(eip, key)]; tb; tb = tb->hash_next)
    if (matches(tc, tb, eip, key, page))
      return tb;
  return NULL;
}

static bool second_page_holds(struct tcache *tc, const struct tb *tb, bool *global);

/* tc_find for the dispatcher, which has walked the first page only: a block that runs into a
 * second page is found only while that page maps the frame it was translated from (another
 * address space may map another one there: each keeps its block). */
static struct tb *tc_find_mapped(struct tcache *tc, uint32_t eip, uint32_t key, uint32_t page,
                                 bool *global2) {
  for (struct tb *tb = tc->hash[hash_of(eip, key)]; tb; tb = tb->hash_next)
    if (matches(tc, tb, eip, key, page) &&
        (!tb_spans(tb) || second_page_holds(tc, tb, global2)))
      return tb;
  return NULL;
}

static int add_block(struct tcache *tc, struct tb *tb) {
  if (tc->n_blocks == tc->cap_blocks) {
    size_t cap = tc->cap_blocks ? tc->cap_blocks * 2 : 4096;
    struct tb **b = realloc(tc->blocks, cap * sizeof(*b));
    if (!b)
      return -ENOMEM;
    tc->blocks = b;
    tc->cap_blocks = cap;
  }
  tc->blocks[tc->n_blocks++] = tb;
  return 0;
}

/* Make a freshly translated block findable and write-protect its code pages. */
void tc_register(struct tcache *tc, struct tb *tb) {
  uint32_t h = hash_of(tb->eip, tb->key);
  tb->hash_next = tc->hash[h];
  tc->hash[h] = tb;
  tc->live_blocks++;
  for (int p = 0; p < 2; p++) {
    if (p == 1 && tb->page[1] == tb->page[0])
      break;
    uint32_t page = tb->page[p];
    if (page >= tc->mmu->npages)
      break; /* no code fetched: a breakpoint's #DB (translate_block) */
    tb->page_next[p] = tc->page_blocks[page];
    tc->page_blocks[page] = tb;
    mmu_protect_code(tc->mmu, page);
  }
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Translate at the CPU's current mode; flush and retry once if the cache is full. */
static struct tb *translate(struct tcache *tc, uint32_t eip, uint32_t key, bool cached) {
  double t0 = now_seconds();
  struct tb *tb = NULL;
  for (int attempt = 0; attempt < 2 && !tb; attempt++) {
    uint64_t gen = tc->generation;
    uint8_t *code = tc->code_ptr, *meta = tc->meta_ptr;
    tb = translate_block(tc, eip, key, cached);
    if (tb)
      break;
    if (tc->cpu->pending.valid || tc->cpu->shutdown || gen != tc->generation)
      break;
    tc->code_ptr = code;
    tc->meta_ptr = meta;
    tc_stats_sample(tc); /* the cache just before the flush */
    flush(tc, true);
  }
  if (tb && add_block(tc, tb) < 0) {
    cpu_stop(tc->cpu, SHUTDOWN_ERROR, "out of memory for the translation cache's block index");
    tb = NULL;
  }
  if (tb && cached)
    tc_register(tc, tb);
  if (tb) {
    if (cached)
      tc->stats.blocks_cached++;
    else
      tc->stats.blocks_uncached++;
  }
  if (tb && (tc->log_in_asm || tc->log_out_asm))
    tc_list_block(tc, tb, tc->log);
  if (tb && tc->perf_map)
    tc_name_block(tc, tb, tc->perf_map);
  tc->stats.translate_seconds += now_seconds() - t0;
  if (tb)
    tc_stats_translated(tc);
  return tb;
}

/* A block that runs into a second linear page: does that page still map the frame it was
 * translated from, executable at the block's CPL? A lookup walks only the first page. Its A
 * bit is set as the fetch would set it. *global: the second page outlives a mov cr3. */
static bool second_page_holds(struct tcache *tc, const struct tb *tb, bool *global) {
  struct cpu *cpu = tc->cpu;
  *global = true;
  if (!(cpu->cr0 & CR0_PG))
    return true;
  struct walk w;
  uint32_t lin = tb_last_page(tb) << PAGE_SHIFT;
  bool user = (tb->key & KEY_CPL_MASK) == 3;
  if (!page_peek(tc->mmu, cpu, lin, &w) || (w.pa >> PAGE_SHIFT) != tb->page[1] ||
      !w.executable || (user && !w.user))
    return false;
  if (!w.accessed) { /* allowed, so the walk raises nothing */
    struct pending_event saved = cpu->pending;
    uint32_t cr2 = cpu->cr2;
    bool ok = page_walk(tc->mmu, cpu, lin, MMU_FETCH | (user ? MMU_USER : 0), &w);
    cpu->pending = saved;
    cpu->cr2 = cr2;
    if (!ok)
      return false;
  }
  *global = w.global && tc->mmu->pge;
  return true;
}

/* The block for the CPU's current EIP and mode, translated if need be. NULL means the fetch
 * raised an exception (cpu->pending) or the VM stopped. */
struct tb *tc_lookup_or_translate(struct tcache *tc, uint32_t eip) {
  struct cpu *cpu = tc->cpu;
  uint32_t key = tc_key(cpu) | tc->extra_key;
  /* A block at an EIP past CS's limit is the #GP(0) it raises: not worth a page walk. */
  bool cached = !tc->one_shot_next && !(tc->extra_key & KEY_SLOW_STRING) &&
                eip <= cpu->seg[SEG_CS].limit;
  tc->one_shot_next = false;
  tc->extra_key = 0;
  tc->stats.lookups++;
  tc->lookup_global = !(cpu->cr0 & CR0_PG);
  if (cached) {
    unsigned access = MMU_FETCH | (cpu->cpl == 3 ? MMU_USER : 0);
    struct pending_event saved = cpu->pending;
    uint32_t lin = cpu->seg[SEG_CS].base + eip;
    struct walk w = {.pa = lin, .global = true};
    bool ok = (cpu->cr0 & CR0_PG) ? page_walk(tc->mmu, cpu, lin, access, &w) : true;
    tc->lookup_global = ok && (!(cpu->cr0 & CR0_PG) || (w.global && tc->mmu->pge));
    uint32_t pa = w.pa;
    if (ok && pa < tc->mmu->ram_size) {
      bool global2 = true;
      struct tb *tb = tc_find_mapped(tc, eip, key, pa >> PAGE_SHIFT, &global2);
      if (tb) {
        tc->lookup_global = tc->lookup_global && global2;
        tc->stats.lookup_hits++;
        return tb;
      }
    }
    cpu->pending = saved; /* the translation below raises it properly if it must */
    tc->stats.lookup_misses++;
  } else {
    tc->stats.lookups_uncached++;
  }
  return translate(tc, eip, key, cached);
}

/* The block whose host code contains host_pc (blocks are in code order). */
struct tb *tc_block_at(struct tcache *tc, const uint8_t *host_pc) {
  size_t lo = 0, hi = tc->n_blocks;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    struct tb *tb = tc->blocks[mid];
    if (host_pc < tb->code)
      hi = mid;
    else if (host_pc >= tb->code + tb->code_len)
      lo = mid + 1;
    else
      return tb;
  }
  return NULL;
}

/* Chain exit x to block `to`. A chain within one linear page is safe for as long as both
 * blocks are; one into another page only while that page's mapping stays, so those are made
 * only to pages a mov cr3 keeps (global ones, or any while paging is off) and are listed for
 * invlpg to undo. */
void tc_link(struct tcache *tc, struct tb_exit *x, struct tb *to, bool to_global) {
  if (!tc->cfg.chain || x->linked || !to->cached || !x->from->valid)
    return;
  /* A block that runs into a second page depends on that page's mapping too: chained only
   * while it holds, listed with the cross-page chains (invlpg of either page undoes them),
   * and, if it is not global, undone at every mov cr3. */
  bool spans = tb_spans(to), global2 = true;
  if (spans && !second_page_holds(tc, to, &global2))
    return;
  bool cross = (tb_linear(x->from) >> PAGE_SHIFT) != (tb_linear(to) >> PAGE_SHIFT);
  if (cross && !(to_global && global2))
    return;
  patch_rel32(x->jump, to->code);
  x->linked = to;
  x->next_incoming = to->incoming;
  to->incoming = x;
  if (cross || spans) {
    int v = view_of(x->from);
    reached_through(tc, to); /* this target's pages, even if x was listed for another */
    if (!x->in_cross) {
      x->next_cross = tc->cross[v];
      x->in_cross = true;
      tc->cross[v] = x;
    }
    tc->span_local[v] += !global2 - x->span_local;
    x->span_local = !global2;
  }
  tc->stats.chains_made++;
}

static bool unlink_exit(struct tb_exit *x) {
  struct tb *to = x->linked;
  if (!to)
    return false;
  for (struct tb_exit **pp = &to->incoming; *pp; pp = &(*pp)->next_incoming)
    if (*pp == x) {
      *pp = x->next_incoming;
      break;
    }
  patch_rel32(x->jump, x->stub);
  x->linked = NULL;
  return true;
}

static uint64_t unlink_incoming(struct tb *tb) {
  uint64_t n = 0;
  for (struct tb_exit *x = tb->incoming; x; x = x->next_incoming) {
    patch_rel32(x->jump, x->stub);
    x->linked = NULL;
    n++;
  }
  tb->incoming = NULL;
  return n;
}

/* Point kernel-mode translations at the kernel view at base: the GS base for their memory
 * operands, and the view register string instructions add (loaded from cpu->view_base
 * whenever translated code is entered or a callout returns). 0, or -1 if the host refuses. */
int tc_set_kernel_view(struct tcache *tc, uintptr_t base) {
  tc->cpu->view_base = (uint64_t)base;
  return (int)syscall(SYS_arch_prctl, ARCH_SET_GS, base);
}

static void kernel_view_switched(void *opaque, uintptr_t base) {
  struct tcache *tc = opaque;
  if (tc_set_kernel_view(tc, base) != 0)
    cpu_stop(tc->cpu, SHUTDOWN_ERROR, "cannot point the GS base at another kernel view");
}

/* Unlink the chains of a view that lead into lin_page (MMU_ALL_PAGES: all of them;
 * MMU_NONGLOBAL_PAGES: those into blocks whose second page is not global), or into a block
 * that runs into it. */
static void unlink_cross(struct tcache *tc, int view, uint32_t lin_page) {
  if (lin_page == MMU_NONGLOBAL_PAGES && !tc->span_local[view])
    return;
  for (struct tb_exit **pp = &tc->cross[view]; *pp;) {
    struct tb_exit *x = *pp;
    const struct tb *to = x->linked;
    bool hit = !to || lin_page == MMU_ALL_PAGES ||
               (lin_page == MMU_NONGLOBAL_PAGES
                    ? x->span_local
                    : (tb_linear(to) >> PAGE_SHIFT) == lin_page || tb_last_page(to) == lin_page);
    if (hit) {
      tc->stats.mapchg_chains_unlinked += unlink_exit(x);
      x->in_cross = false;
      tc->span_local[view] -= x->span_local;
      x->span_local = false;
      *pp = x->next_cross;
    } else {
      pp = &x->next_cross;
    }
  }
}

/* A mov cr3: chains into other pages lead only into global pages (tc_link), which stay
 * while CR4.PGE is set; an indirect-branch cache keeps its entries into non-global pages that
 * map what they did (processes running one program share its code frames), and those into
 * global ones while CR4.PGE is set. */
static void address_space_switched(struct tcache *tc, int view) {
  tc->stats.mapchg_events++;
  bool pge = tc->mmu->pge;
  unlink_cross(tc, view, pge ? MMU_NONGLOBAL_PAGES : MMU_ALL_PAGES);
  for (int slot = 0; slot < JC_SLOTS; slot++) {
    if (!slot_used_in(tc, slot, view))
      continue;
    if ((!pge && tc->jc_pages[slot].global_entries) || !jc_revalidate(tc, slot)) {
      jcache_clear_slot(tc, slot);
      tc->stats.mapchg_jcache_clears++;
    }
  }
}

/* The guest may have changed the mapping of lin_page (or all) in a view: unlink chains into it
 * and forget indirect-branch targets reached through that view. */
static void mapping_changed(void *opaque, int view, uint32_t lin_page) {
  struct tcache *tc = opaque;
  if (lin_page == MMU_NONGLOBAL_PAGES) {
    address_space_switched(tc, view);
    return;
  }
  if (lin_page != MMU_ALL_PAGES && !(tc->code_lin[view][lin_page / 8] & (1u << (lin_page % 8))))
    return; /* no translation was ever reached through that page */
  tc->stats.mapchg_events++;
  unlink_cross(tc, view, lin_page);
  for (int slot = 0; slot < JC_SLOTS; slot++) {
    if (!slot_used_in(tc, slot, view))
      continue;
    if (lin_page == MMU_ALL_PAGES) {
      jcache_clear_slot(tc, slot);
      tc->stats.mapchg_jcache_clears++;
    } else if (jc_pages_drop(&tc->jc_pages[slot], lin_page)) {
      jcache_forget_code_in(tc, slot, lin_page);
    }
  }
  /* Nothing reached through this view's linear addresses is left. */
  if (lin_page == MMU_ALL_PAGES && tc->code_lin_set[view]) {
    memset(tc->code_lin[view], 0, (1u << 20) / 8);
    tc->code_lin_set[view] = false;
  }
}

static void remove_from_hash(struct tcache *tc, struct tb *tb) {
  struct tb **pp = &tc->hash[hash_of(tb->eip, tb->key)];
  while (*pp && *pp != tb)
    pp = &(*pp)->hash_next;
  if (*pp)
    *pp = tb->hash_next;
}

enum inval_cause { BY_CPU, BY_DEVICE, FOR_MMIO };

/* Drop one block: nothing may enter it any more. Its code stays until the next flush.
 * Why, for the statistics: the guest's CPU wrote its code, a device or loader did
 * (tc_invalidate_phys), or an instruction on its page is to become a device-memory callout. */

static void invalidate_block(struct tcache *tc, struct tb *tb, enum inval_cause cause) {
  if (!tb->valid)
    return;
  tb->valid = false;
  remove_from_hash(tc, tb);
  tc->stats.chains_unlinked += unlink_incoming(tb);
  jcache_forget(tc, tb);
  /* Its own chained exits stay patched: code that still runs in it (the instruction that
   * wrote) leaves through them, and their targets are still valid translations. */
  tc->stats.invalidated_blocks++;
  if (cause == BY_DEVICE)
    tc->stats.inval_device++;
  else if (cause == FOR_MMIO)
    tc->stats.inval_mmio++;
  else
    tc->stats.inval_smc++;
  tc->live_blocks--;
}

static void forget_mmio_insns(struct tcache *tc, uint32_t page);

static void invalidate_page(struct tcache *tc, uint32_t page, enum inval_cause cause) {
  if (page >= tc->mmu->npages)
    return;
  if (cause != FOR_MMIO && tc->mmio_pages[page])
    forget_mmio_insns(tc, page);
  struct tb *tb = tc->page_blocks[page];
  tc->page_blocks[page] = NULL;
  while (tb) {
    int which = tb->page[0] == page ? 0 : 1;
    struct tb *next = tb->page_next[which];
    invalidate_block(tc, tb, cause);
    /* A block on two pages stays listed on the other one; it is already invalid there. */
    tb = next;
  }
  mmu_unprotect_code(tc->mmu, page);
}

void tc_invalidate_page(struct tcache *tc, uint32_t page) { invalidate_page(tc, page, BY_CPU); }

/* Instructions that touch device memory (a LAPIC's EOI and timer registers, an IOAPIC's):
 * each access would be a host fault (~13 us here) and a return to the dispatcher to emulate
 * it. Once one has done that, it is remembered by physical address and translated as a
 * callout to the same emulator (insn_emulate_mmio) instead. A small open-addressed set; when
 * it is full the rest keep faulting. */
/* The slot that holds pa, or the empty one it would go in; -1 if the set is full. */
static int mmio_slot(const struct tcache *tc, uint32_t pa) {
  for (uint32_t i = ((pa * 0x9e3779b1u) >> 16) % TC_MMIO_INSNS, n = 0; n < TC_MMIO_INSNS;
       i = (i + 1) % TC_MMIO_INSNS, n++)
    if (tc->mmio_insns[i] == pa + 1 || tc->mmio_insns[i] == 0)
      return (int)i;
  return -1;
}

enum learned tc_learned_insn(const struct tcache *tc, uint32_t pa) {
  if (!tc->mmio_pages[pa >> PAGE_SHIFT])
    return LEARNED_NONE;
  int i = mmio_slot(tc, pa);
  return i >= 0 && tc->mmio_insns[i] == pa + 1 ? (enum learned)tc->mmio_kind[i] : LEARNED_NONE;
}

/* Remember the instruction at pa and drop the translations of its page, so that it is
 * translated again as a callout. */
void tc_note_learned_insn(struct tcache *tc, uint32_t pa, enum learned kind) {
  int i = mmio_slot(tc, pa);
  if (i < 0 || tc->mmio_insns[i] == pa + 1)
    return;
  tc->mmio_insns[i] = pa + 1;
  tc->mmio_kind[i] = (uint8_t)kind;
  tc->mmio_pages[pa >> PAGE_SHIFT] = 1;
  invalidate_page(tc, pa >> PAGE_SHIFT, FOR_MMIO);
  /* Still watched, with no blocks on it now: new code there must forget the entry. */
  mmu_protect_code(tc->mmu, pa >> PAGE_SHIFT);
}

/* The code on a page changed: what was there touched device memory, not what is there now. */
static void forget_mmio_insns(struct tcache *tc, uint32_t page) {
  uint32_t keep[TC_MMIO_INSNS], n = 0;
  uint8_t kind[TC_MMIO_INSNS];
  for (uint32_t i = 0; i < TC_MMIO_INSNS; i++)
    if (tc->mmio_insns[i] && (tc->mmio_insns[i] - 1) >> PAGE_SHIFT != page) {
      kind[n] = tc->mmio_kind[i];
      keep[n++] = tc->mmio_insns[i] - 1;
    }
  memset(tc->mmio_insns, 0, sizeof(tc->mmio_insns));
  tc->mmio_pages[page] = 0;
  for (uint32_t i = 0; i < n; i++) {
    int slot = mmio_slot(tc, keep[i]); /* (fewer than before: there is one) */
    tc->mmio_insns[slot] = keep[i] + 1;
    tc->mmio_kind[slot] = kind[i];
  }
}

void tc_invalidate_phys(struct tcache *tc, uint64_t pa, uint64_t len) {
  if (!len)
    return;
  for (uint64_t page = pa >> PAGE_SHIFT; page <= (pa + len - 1) >> PAGE_SHIFT; page++)
    if (page < tc->mmu->npages && tc->mmu->code_page[page])
      invalidate_page(tc, (uint32_t)page, BY_DEVICE);
}

void tc_set_logging(struct tcache *tc, bool in_asm, bool out_asm, FILE *log) {
  tc->log_in_asm = in_asm;
  tc->log_out_asm = out_asm;
  tc->log = log;
}

void tc_set_perf_map(struct tcache *tc, FILE *map) { tc->perf_map = map; }

static void code_write_hook(void *opaque, uint32_t page) {
  struct tcache *tc = opaque;
  tc->code_writes++;
  tc_invalidate_page(tc, page);
}

void bt_kick(struct tcache *tc) {
  /* The flag first: the run loop clears it before it looks, so no kick is lost. */
  __atomic_store_n(&tc->kicked, 1, __ATOMIC_SEQ_CST);
  mprotect(tc->polls, 2 * PAGE_SIZE, PROT_NONE);
  uint64_t one = 1;
  if (write(tc->kick_fd, &one, sizeof(one)) < 0) {
    /* The counter is saturated: the vCPU has wake-ups enough. */
  }
}

void bt_kick_at_deadline(struct tcache *tc) {
  if (!__atomic_load_n(&tc->halt_waiting, __ATOMIC_SEQ_CST))
    bt_kick(tc);
}

int tc_init(struct tcache **out, struct cpu *cpu, struct mmu *mmu, const struct tc_config *cfg) {
  struct tcache *tc = calloc(1, sizeof(*tc));
  if (!tc)
    return -ENOMEM;
  int err = -ENOMEM;
  tc->cpu = cpu;
  tc->mmu = mmu;
  tc->cfg = *cfg;
  tc->kick_fd = -1;
  /* At least room for the largest block (512 instructions of at most 96 host bytes each) and
   * its metadata, with a margin: a cache that small flushes often, which is what it is for. */
  if (tc->cfg.code_bytes < TC_MIN_CODE_BYTES)
    tc->cfg.code_bytes = TC_MIN_CODE_BYTES;
  if (tc->cfg.max_block_insns < 1)
    tc->cfg.max_block_insns = 1;
  ZydisDecoderInit(&tc->decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  ZydisDecoderInit(&tc->decoder16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_32);
  /* The guest is a P6: F3 0F BC/BD are BSF/BSR, 0F 1E is a hint NOP, F2 is no BND prefix. */
  ZydisDecoderEnableMode(&tc->decoder, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder, ZYDIS_DECODER_MODE_LZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder16, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder16, ZYDIS_DECODER_MODE_LZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder16, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
  ZydisDecoderEnableMode(&tc->decoder16, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);

  size_t meta_bytes = tc->cfg.code_bytes / META_FRACTION;
  /* The single-step guard and poll pages sit right below the code so that a RIP-relative
   * load reaches them. */
  tc->step_guard = mmap(NULL, tc->cfg.code_bytes + 4 * PAGE_SIZE,
                        PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  tc->polls = tc->step_guard == MAP_FAILED ? MAP_FAILED : tc->step_guard + 2 * PAGE_SIZE;
  tc->code = tc->polls == MAP_FAILED ? MAP_FAILED : tc->polls + 2 * PAGE_SIZE;
  if (tc->step_guard != MAP_FAILED &&
      (mprotect(tc->step_guard, PAGE_SIZE, PROT_READ) != 0 ||
       mprotect(tc->step_guard + PAGE_SIZE, PAGE_SIZE, PROT_NONE) != 0))
    tc->code = MAP_FAILED;
  tc->meta = mmap(NULL, meta_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  tc->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (tc->code == MAP_FAILED || tc->meta == MAP_FAILED || tc->kick_fd < 0) {
    fprintf(stderr, "bt386: cannot allocate a %zu KiB translation cache\n",
            tc->cfg.code_bytes >> 10);
    goto fail;
  }
  tc->code_ptr = tc->code;
  tc->code_end = tc->code + tc->cfg.code_bytes;
  tc->meta_ptr = tc->meta;
  tc->meta_end = tc->meta + meta_bytes;
  tc->page_blocks = calloc(mmu->npages, sizeof(struct tb *));
  tc->mmio_pages = calloc(mmu->npages, 1);
  if (!tc->page_blocks || !tc->mmio_pages)
    goto fail;
  for (int v = 0; v < 2; v++) {
    tc->code_lin[v] = calloc((1u << 20) / 8, 1);
    if (!tc->code_lin[v])
      goto fail;
  }
  for (int slot = 0; slot < JC_SLOTS; slot++) {
    tc->jcache[slot] = malloc((size_t)JC_SIZE * 12);
    if (!tc->jcache[slot])
      goto fail;
    jcache_clear(tc->jcache[slot]);
  }
  mmu->code_write = code_write_hook;
  mmu->mapping_changed = mapping_changed;
  mmu->kernel_view_switched = kernel_view_switched;
  mmu->code_write_opaque = tc;
  err = fault_handlers_install(tc);
  if (err)
    goto fail;
  *out = tc;
  return 0;
fail:
  tc_exit(tc);
  return err;
}

void tc_exit(struct tcache *tc) {
  if (!tc)
    return;
  fault_handlers_remove();
  if (tc->mmu && tc->mmu->code_write_opaque == tc) {
    tc->mmu->code_write = NULL;
    tc->mmu->mapping_changed = NULL;
    tc->mmu->kernel_view_switched = NULL;
  }
  for (int slot = 0; slot < JC_SLOTS; slot++)
    free(tc->jcache[slot]);
  free(tc->code_lin[0]);
  free(tc->code_lin[1]);
  free(tc->page_blocks);
  free(tc->mmio_pages);
  free(tc->blocks);
  tc_stats_free(tc);
  if (tc->step_guard && tc->step_guard != MAP_FAILED)
    munmap(tc->step_guard, tc->cfg.code_bytes + 4 * PAGE_SIZE);
  if (tc->kick_fd > 0)
    close(tc->kick_fd);
  if (tc->meta && tc->meta != MAP_FAILED)
    munmap(tc->meta, tc->cfg.code_bytes / META_FRACTION);
  free(tc);
}

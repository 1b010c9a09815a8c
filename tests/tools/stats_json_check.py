#!/usr/bin/env python3
"""stats_json_check.py - bt386 --stats-json on guest test kernels: the figures must be
consistent with each other and plausible for what each kernel does.

    stats_json_check.py BT386 GUEST_DIR WORK_DIR

GUEST_DIR holds the guest test kernels (build/tests/guest/*.elf). Relations checked on the
whole run and on every phase (docs/translator.md, "Statistics"):

  translation.blocks          = blocks_cached + blocks_uncached
  dispatcher lookups          = hits + misses + uncached
  jcache lookups              = hits + misses = indirect + cross_page (each of the three)
  block entries               = from_dispatcher + from_jcache + from_chain, from_chain >= 0
  exits.total                 = the four kinds = block_entries.from_dispatcher
  invalidated blocks          = the sum over causes; flushes likewise
  blocks_cached               = live_blocks_end - live_blocks_start + invalidated blocks
  chains unlinked             = by invalidation + by mapping change
  every counter of the total  = the sum over the phases

and per case what the kernel must show (SMC invalidations for smc, cache-full flushes under a
small --tc-size, no chained entries under --no-chain, two phases for a kernel with ring 3...).
"""
import json
import os
import subprocess
import sys

failures = []


def fail(case, msg):
    failures.append(f"{case}: {msg}")


def expect(case, cond, msg):
    if not cond:
        fail(case, msg)


def run(bt386, kernel, work, name, *opts):
    out = os.path.join(work, f"stats_{name}.json")
    if os.path.exists(out):
        os.remove(out)
    cmd = [bt386, "--stats-json", out, *opts, "-kernel", kernel]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if r.returncode != 1:  # the test kernels end with guest_exit(0): status (0 << 1) | 1
        fail(name, f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    try:
        with open(out) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(name, f"no valid JSON from {' '.join(cmd)}: {e}")
        return None


def check_figures(case, f, inline):
    t = f["translation"]
    expect(case, t["blocks"] == t["blocks_cached"] + t["blocks_uncached"],
           f"blocks {t['blocks']} != cached + uncached")
    lk = f["lookups"]
    d = lk["dispatcher"]
    expect(case, d["lookups"] == d["hits"] + d["misses"] + d["uncached"],
           f"dispatcher lookups {d} do not add up")
    ex = f["exits"]
    expect(case, ex["total"] == ex["unchained_branch"] + ex["indirect_or_dispatch"] +
           ex["callout"] + ex["fault"], f"exits {ex} do not add up")
    be = f["block_entries"]
    expect(case, ex["total"] == be["from_dispatcher"],
           f"{ex['total']} exits but {be['from_dispatcher']} entries from the dispatcher")
    jc = lk["jcache"]
    if inline:
        for k in ("lookups", "hits", "misses"):
            expect(case, jc[k] == jc["indirect"][k] + jc["cross_page"][k],
                   f"jcache {k} != indirect + cross_page")
        for part in (jc, jc["indirect"], jc["cross_page"]):
            expect(case, part["lookups"] == part["hits"] + part["misses"],
                   f"jcache lookups != hits + misses in {part}")
            expect(case, part["hits"] >= 0 and part["misses"] >= 0, f"negative jcache {part}")
        expect(case, be["total"] == be["from_dispatcher"] + be["from_jcache"] + be["from_chain"],
               f"block entries {be} do not add up")
        expect(case, be["from_chain"] >= 0, f"negative chained entries {be}")
        expect(case, be["from_chain"] == lk["chains"]["executed"], "chains.executed")
        expect(case, lk["indirect_branches"] >= jc["indirect"]["lookups"],
               "more jcache probes at indirect branches than indirect branches")
        expect(case, be["guest_insns"] >= be["total"], "fewer guest instructions than blocks")
    else:
        for v in (jc["lookups"], jc["hits"], be["total"], be["from_chain"],
                  lk["indirect_branches"]):
            expect(case, v is None, "an inline figure without inline counters is not null")
    inv = f["invalidations"]
    expect(case, inv["blocks"] == sum(inv["blocks_by_cause"].values()),
           f"invalidated blocks {inv['blocks']} != sum over causes {inv['blocks_by_cause']}")
    expect(case, inv["flushes"] == sum(inv["flushes_by_cause"].values()),
           "flushes != sum over causes")
    ch = lk["chains"]
    expect(case, ch["unlinked"] == ch["unlinked_by_invalidation"] +
           ch["unlinked_by_mapping_change"], "chains unlinked do not add up")
    expect(case, ch["unlinked_by_mapping_change"] == inv["mapping_changed"]["chains_unlinked"],
           "mapping-change unlinks differ")
    c = f["cache"]
    expect(case, t["blocks_cached"] ==
           c["live_blocks_end"] - c["live_blocks_start"] + inv["blocks"],
           f"cached blocks {t['blocks_cached']} != live {c} + invalidated {inv['blocks']}")
    expect(case, f["translate_seconds"] <= f["host_seconds"] + 1e-6, "translating > run time")


def counters(node, path=""):
    """The integer counters of a figures object (not rates, seconds or gauges)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "cache" or "rate" in k or "seconds" in k or "per_" in k:
                continue
            yield from counters(v, f"{path}.{k}")
    elif isinstance(node, int) and not isinstance(node, bool):
        yield path, node


def check(case, d, phases=None, inline=True):
    if d is None:
        return
    expect(case, d["format"] == "bt386-stats" and d["version"] == 1, "format/version")
    expect(case, d["config"]["inline_counters"] == inline, "config.inline_counters")
    total = d["total"]
    check_figures(case + " total", total, inline)
    expect(case, total["translation"]["blocks"] > 0, "no blocks translated")
    expect(case, total["translation"]["guest_insns"] >= total["translation"]["blocks"],
           "fewer instructions than blocks")
    expect(case, total["translation"]["ns_per_guest_insn"] > 0, "no translation cost")
    expect(case, total["translation"]["host_bytes_per_guest_byte"] > 1,
           "host code smaller than guest code")
    ph = d["phases"]
    if phases is not None:
        expect(case, len(ph) == phases, f"{len(ph)} phases, expected {phases}")
    expect(case, [p["name"] for p in ph] == ["boot", "steady"][:len(ph)], "phase names")
    for p in ph:
        check_figures(f"{case} phase {p['name']}", p["figures"], inline)
    if ph:
        sums = {}
        for p in ph:
            for k, v in counters(p["figures"]):
                sums[k] = sums.get(k, 0) + v
        for k, v in counters(total):
            expect(case, sums.get(k) == v, f"{k}: total {v} != sum over phases {sums.get(k)}")
        expect(case, ph[-1]["figures"]["cache"]["live_blocks_end"] ==
               total["cache"]["live_blocks_end"], "live blocks at the end")
    rows = d["samples"]["rows"]
    fields = d["samples"]["fields"]
    expect(case, len(rows) >= 2, "fewer than two cache-size samples")
    ti, tr, lb, cb = (fields.index(k) for k in ("seconds", "translations", "live_blocks",
                                                 "code_bytes"))
    for a, b in zip(rows, rows[1:]):
        expect(case, b[ti] >= a[ti] and b[tr] >= a[tr], f"samples go back: {a} {b}")
    for r in rows:
        expect(case, r[lb] <= r[tr] and r[cb] <= d["config"]["tc_size_bytes"],
               f"implausible sample {r}")
    if rows:
        expect(case, rows[-1][tr] == total["translation"]["blocks"], "last sample")
    return d


def main():
    bt386, guests, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    k = lambda name: os.path.join(guests, name + ".elf")

    d = check("hello", run(bt386, k("hello"), work, "hello"), phases=1)
    if d:
        expect("hello", d["phases"][0]["ended_by"] == "the end of the run",
               "a kernel without ring 3 has one phase to the end")

    d = check("indirect", run(bt386, k("indirect"), work, "indirect"))
    if d:
        t = d["total"]
        expect("indirect", t["lookups"]["jcache"]["indirect"]["hits"] > 0, "no jcache hits")
        expect("indirect", t["block_entries"]["from_chain"] > 0, "no chained entries")
    d = check("no-chain", run(bt386, k("indirect"), work, "nochain", "--no-chain"))
    if d:
        t = d["total"]
        expect("no-chain", t["lookups"]["chains"]["made"] == 0, "chains made under --no-chain")
        expect("no-chain", t["block_entries"]["from_chain"] == 0, "chained entries")
    d = check("no-jcache", run(bt386, k("indirect"), work, "nojcache", "--no-jcache"))
    if d:
        expect("no-jcache", d["total"]["lookups"]["jcache"]["lookups"] == 0, "jcache probes")
    d = check("neither", run(bt386, k("indirect"), work, "neither", "--no-chain", "--no-jcache"))
    if d:
        be = d["total"]["block_entries"]
        expect("neither", be["total"] == be["from_dispatcher"],
               "every block entry must come from the dispatcher")
    d = check("no-inline", run(bt386, k("indirect"), work, "noinline", "--stats-no-inline"),
              inline=False)

    d = check("smc", run(bt386, k("smc"), work, "smc"))
    if d:
        inv = d["total"]["invalidations"]
        expect("smc", inv["blocks_by_cause"]["smc"] > 0, "no SMC invalidations")
        expect("smc", inv["smc_faults"] > 0, "no SMC faults")
        expect("smc", d["total"]["translation"]["blocks_uncached"] > 0, "no one-shot blocks")

    for name in ("shift", "smc"):
        case = f"{name} --tc-size 128K"
        d = check(case, run(bt386, k(name), work, name + "_small", "--tc-size", "128K"))
        if d:
            inv = d["total"]["invalidations"]
            expect(case, inv["flushes_by_cause"]["cache_full"] > 0, "no cache-full flushes")
            expect(case, inv["blocks_by_cause"]["cache_full"] > 0, "no blocks flushed")
            rows = d["samples"]["rows"]
            expect(case, any(b[2] < a[2] for a, b in zip(rows, rows[1:])),
                   "the samples never show the cache shrink")

    d = check("user", run(bt386, k("user"), work, "user"), phases=2)
    if d and len(d["phases"]) == 2:
        expect("user", d["phases"][0]["ended_by"] == "the first ring-3 block", "ring-3 mark")
        expect("user", d["phases"][1]["figures"]["translation"]["blocks"] > 0,
               "nothing translated after the first ring-3 block")
    d = check("user --stats-phase none", run(bt386, k("user"), work, "user_none",
                                              "--stats-phase", "none"), phases=1)
    d = check("compute insns mark", run(bt386, k("compute"), work, "compute_insns",
                                        "--stats-phase", "insns=100000"), phases=2)
    d = check("paging", run(bt386, k("paging"), work, "paging"))
    d = check("block-insns 1", run(bt386, k("hello"), work, "block1", "--block-insns", "1"))
    if d:
        expect("block-insns 1", d["total"]["translation"]["insns_per_block"] == 1,
               "blocks of more than one instruction")

    for f in failures:
        print("FAIL", f)
    print(f"stats_json_check: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

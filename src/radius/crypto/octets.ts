/**
 * Small zero-filled buffers for digests, keystreams and scratch areas, carved from a private
 * slab of 8 KiB instead of allocated one by one.
 *
 * Why: V8 keeps a typed array of 64 octets or less inside its own heap, and gives it a buffer
 * of its own (a malloc, and a free later by the GC's sweeper on another thread) the first time
 * anything asks for `.buffer`, which `subarray`, `Buffer.from(x.buffer)` and hash-wasm's
 * `update` all do. Each MD5 result went that way: in the auth worker's PAP profile on an Intel
 * Xeon, `TypedArray.prototype.buffer` was 7 % of the process's samples and malloc/free another
 * ~10 %. A slab is one allocation per 8 KiB; the views handed out share it (`subarray` of a
 * buffer that already exists allocates nothing off the heap).
 *
 * The slab is this module's own (not Node's shared `allocUnsafe` pool, which other code reads
 * back uninitialised): its octets are zero until handed out once, and never handed out twice.
 * Like Node's pool, a view kept for long keeps its whole slab alive; this is for values that
 * live as long as a request.
 */
const SLAB = 8192;
/** Larger requests get a buffer of their own (above 64 octets V8 puts it off-heap anyway). */
const MAX_CARVED = 256;

let slab = Buffer.alloc(SLAB);
let used = 0;

/** `n` zero octets, a view of this module's slab (or a buffer of its own when large). */
export function freshOctets(n: number): Buffer {
  if (n > MAX_CARVED) return Buffer.alloc(n);
  if (used + n > SLAB) {
    slab = Buffer.alloc(SLAB);
    used = 0;
  }
  const out = slab.subarray(used, used + n);
  // Keep each view 8-octet aligned, as an allocator would.
  used += (n + 7) & ~7;
  return out;
}

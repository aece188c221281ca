//! The global allocator of the WebAssembly module: dlmalloc (the allocator
//! Rust's standard library uses on wasm32) over a system source that grows
//! linear memory geometrically.
//!
//! Why: the standard source grows memory by exactly what one allocation
//! needs, usually a single 64 KiB page, and each `memory.grow` costs about
//! 0.4 ms in V8 (measured: 2,000 one-page grows take 0.8-1 s). Holding many
//! definitions (history, a hydrated cache, a bulk import) then spends most
//! of its time growing memory. Growing by a quarter of the current size
//! (at least 1 MiB) makes the number of grows logarithmic in the heap size.
//! Memory is never returned to the host, as with the standard source.

use core::arch::wasm32;
use core::ptr;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use dlmalloc::{Allocator, Dlmalloc};

use crate::error::{Error, Result};

const PAGE: usize = 64 * 1024;
/// The most linear memory a wasm32 module can have: 65,536 pages, 4 GiB
/// (one byte less, as a `usize`).
pub const MEMORY_LIMIT: usize = usize::MAX;
/// Smallest growth step: 16 pages (1 MiB).
const MIN_GROW_PAGES: usize = 16;

/// Grows linear memory by at least a quarter of its current size.
pub struct GeometricPages;

unsafe impl Allocator for GeometricPages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let needed = size.div_ceil(PAGE);
        let current = wasm32::memory_size(0);
        let preferred = needed.max(current / 4).max(MIN_GROW_PAGES);
        // Near the 4 GiB limit the larger step may fail where the needed one fits.
        for pages in [preferred, needed] {
            let prev = wasm32::memory_grow(0, pages);
            if prev != usize::MAX {
                let base = prev * PAGE;
                let len = pages * PAGE;
                // A region ending exactly at the top of the address space would
                // make pointers wrap to 0: keep its last bytes unused.
                let len = if base.wrapping_add(len) == 0 {
                    len - 16
                } else {
                    len
                };
                return (base as *mut u8, len, 0);
            }
        }
        (ptr::null_mut(), 0, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // Fresh wasm pages are zeroed.
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// Bytes of live allocations (as asked for, without dlmalloc's overhead).
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently allocated on the heap.
pub fn heap_in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// Bytes of linear memory the module has (it never shrinks).
pub fn memory_bytes() -> usize {
    wasm32::memory_size(0) * PAGE
}

/// Heap kept free for the small allocations every call makes, which
/// cannot fail gracefully: a call that would leave less is refused.
pub const RESERVE: usize = 64 * 1024 * 1024;

/// Bytes the heap can still allocate before the 4 GiB limit.
pub fn headroom() -> usize {
    MEMORY_LIMIT - heap_in_use()
}

/// Whether a buffer grew (`reserved`: what its `try_reserve` answered) and
/// the heap still has its reserve: what a result is built within.
pub fn grown(reserved: std::result::Result<(), std::collections::TryReserveError>) -> bool {
    reserved.is_ok() && headroom() > RESERVE
}

/// `QUOTA_EXCEEDED` for `what` that does not fit in the module's memory.
pub fn exhausted(what: &str) -> Error {
    Error::QuotaExceeded {
        message: format!(
            "{what} does not fit in the module's memory: {} MiB of its 4096 MiB are in use (memoryUsage() tells; a memory store holds its definitions there)",
            heap_in_use() >> 20
        ),
    }
}

/// Admits work that allocates about `bytes`: `QUOTA_EXCEEDED` when it
/// would leave less than [`RESERVE`] free. An allocation that fails traps
/// the module (Rust aborts), so calls are refused before they start one.
pub fn admit(bytes: usize) -> Result<()> {
    if headroom() < bytes.saturating_add(RESERVE) {
        return Err(exhausted("this call"));
    }
    Ok(())
}

fn count(ptr: *mut u8, add: usize, sub: usize) -> *mut u8 {
    if !ptr.is_null() {
        // One thread (see `Sync` below): a plain add and subtract.
        IN_USE.store(heap_in_use() + add - sub, Ordering::Relaxed);
    }
    ptr
}

/// dlmalloc over [`GeometricPages`] as the global allocator.
pub struct GlobalAllocator(UnsafeCell<Dlmalloc<GeometricPages>>);

// SAFETY: this module is built for wasm32 without the `atomics` feature:
// one thread, and allocation never re-enters the allocator, so the cell is
// never borrowed twice at once.
unsafe impl Sync for GlobalAllocator {}

impl GlobalAllocator {
    /// The allocator, before its first use.
    pub const fn new() -> Self {
        GlobalAllocator(UnsafeCell::new(Dlmalloc::new_with_allocator(
            GeometricPages,
        )))
    }
}

impl Default for GlobalAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: each method hands dlmalloc exclusive access (see `Sync` above) and
// passes the layout through unchanged, as dlmalloc's own global wrapper does.
unsafe impl GlobalAlloc for GlobalAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(
            (*self.0.get()).malloc(layout.size(), layout.align()),
            layout.size(),
            0,
        )
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(
            (*self.0.get()).calloc(layout.size(), layout.align()),
            layout.size(),
            0,
        )
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align());
        IN_USE.store(heap_in_use() - layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(
            (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size),
            new_size,
            layout.size(),
        )
    }
}

#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: GlobalAllocator = GlobalAllocator::new();

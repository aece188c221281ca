//! One stable sort shared by the module's lists.
//!
//! Every `sort_by` of a new element type compiles the standard library's
//! sort again, about 3 KB of WebAssembly each. Here the positions of the
//! items are sorted instead, by one sort of `usize` that every caller
//! shares, and the items then moved into place.

use std::cmp::Ordering;

/// Sorts `items` by `cmp`, stably (equal items keep their order), as
/// `items.sort_by(cmp)` would.
pub(crate) fn sort_by<T>(items: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    sort_positions(&mut order, &|a, b| cmp(&items[a], &items[b]));
    permute(items, &order);
}

#[inline(never)]
fn sort_positions(order: &mut [usize], cmp: &dyn Fn(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| cmp(a, b));
}

/// Moves the item at `order[i]` to `i`, for every `i`, one cycle of the
/// permutation at a time: position `at` receives its item from `order[at]`
/// until the cycle comes back to where it started.
fn permute<T>(items: &mut [T], order: &[usize]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        let mut at = start;
        while !placed[at] {
            placed[at] = true;
            let from = order[at];
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_as_the_standard_stable_sort_does() {
        // Pseudo-random lists with many equal keys, each item tagged with
        // where it started, so a change of order among equals shows.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in (0..40).chain([100, 1000, 4097]) {
            for spread in [1, 3, 50, u64::MAX] {
                let items: Vec<(u64, usize)> =
                    (0..len).map(|i| (next() % spread.max(1), i)).collect();
                let mut ours = items.clone();
                sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
                let mut theirs = items;
                theirs.sort_by_key(|a| a.0);
                assert_eq!(ours, theirs, "len {len} spread {spread}");
            }
        }
        let mut sorted: Vec<u8> = (0..50).collect();
        sort_by(&mut sorted, |a, b| b.cmp(a));
        assert_eq!(sorted, (0..50).rev().collect::<Vec<u8>>());
    }
}

//! Keeps the daemon's resident code to the code it runs.
//!
//! Most of an idle daemon's RSS is not memory it allocated but pages of its own executable
//! mapped from the page cache: 3.4 of 3.9 MiB of the binary were resident in an idle daemon
//! over TLS, although a quiet cycle runs a small part of it. Two things map them: the code run
//! once at start (argument parsing, configuration, the TLS set-up), and the kernel's
//! fault-around, which maps up to 16 neighbouring pages already in the page cache with every
//! page a fault asks for. So, on Linux:
//!
//! - `release` (after each daemon cycle) unmaps the executable's read-only segments with
//!   `MADV_DONTNEED`; a page the next cycle needs is mapped again from the page cache (a minor
//!   fault, no disk read). Only segments the program never writes are touched: text and
//!   read-only data outside the RELRO range (which the loader wrote relocations into and
//!   `MADV_DONTNEED` would revert to the file's bytes).
//!
//! The pages stay in the page cache: this changes what the process holds, not what the machine
//! caches, and it is safe to do at any time. It is measured by `scripts/bench` (the idle
//! daemon's RSS) and does nothing elsewhere.

/// Unmaps the executable's clean, read-only pages; the code still to run maps them back.
pub fn release() {
    #[cfg(target_os = "linux")]
    linux::release();
}

#[cfg(target_os = "linux")]
mod linux {
    /// A page-aligned address range.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Range {
        pub start: usize,
        pub end: usize,
    }

    pub fn release() {
        for range in read_only_ranges() {
            // SAFETY: the range lies inside a PT_LOAD segment of this executable that has
            // neither PF_W nor any byte in PT_GNU_RELRO: its pages are exactly the file's
            // bytes, so dropping them loses nothing; the next access maps them again.
            unsafe {
                libc::madvise(
                    range.start as *mut libc::c_void,
                    range.end - range.start,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }

    /// What `dl_iterate_phdr` reported of the executable.
    #[derive(Default)]
    struct Segments {
        /// Each PT_LOAD segment and whether it is writable.
        loads: Vec<(Range, bool)>,
        relro: Vec<Range>,
    }

    /// The executable's read-only segments (not writable, outside RELRO), page-aligned
    /// inwards.
    fn read_only_ranges() -> Vec<Range> {
        let mut segments = Segments::default();
        // SAFETY: dl_iterate_phdr calls `collect` with pointers valid during the call; the
        // context pointer is ours and outlives the call.
        unsafe {
            libc::dl_iterate_phdr(
                Some(collect),
                &mut segments as *mut Segments as *mut libc::c_void,
            );
        }
        plan(&segments.loads, &segments.relro, page_size())
    }

    unsafe extern "C" fn collect(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `Segments` that `read_only_ranges` passed; `info` is valid
        // for the call. The first object reported is the executable itself.
        let (segments, info) = unsafe { (&mut *(data as *mut Segments), &*info) };
        for index in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
            let header = unsafe { &*info.dlpi_phdr.add(index) };
            let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
            let range = Range {
                start,
                end: start.saturating_add(header.p_memsz as usize),
            };
            match header.p_type {
                libc::PT_LOAD => segments
                    .loads
                    .push((range, header.p_flags & libc::PF_W != 0)),
                libc::PT_GNU_RELRO => segments.relro.push(range),
                _ => {}
            }
        }
        // Stop after the executable: shared libraries are not ours to drop.
        1
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096).max(4096)
    }

    /// The page-aligned parts of the read-only segments that no writable segment or RELRO
    /// range touches. Pure, for the tests.
    pub fn plan(segments: &[(Range, bool)], relro: &[Range], page: usize) -> Vec<Range> {
        let unsafe_ranges: Vec<Range> = segments
            .iter()
            .filter(|(_, writable)| *writable)
            .map(|(range, _)| *range)
            .chain(relro.iter().copied())
            .collect();
        segments
            .iter()
            .filter(|(_, writable)| !writable)
            .filter_map(|(range, _)| {
                // Inwards to whole pages: a page shared with another segment is kept.
                let start = range.start.checked_add(page - 1)? / page * page;
                let end = range.end / page * page;
                let inner = Range { start, end };
                let overlaps = unsafe_ranges
                    .iter()
                    .any(|other| other.start < inner.end && inner.start < other.end);
                (start < end && !overlaps).then_some(inner)
            })
            .collect()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{plan, Range};

    fn r(start: usize, end: usize) -> Range {
        Range { start, end }
    }

    #[test]
    fn only_whole_read_only_pages_outside_relro_and_data() {
        let segments = [
            (r(0, 0x12ac38), false),        // rodata: 0..0x12a000 whole pages
            (r(0x12bc40, 0x3c0350), false), // text: from 0x12c000 to 0x3c0000
            (r(0x3c1350, 0x3dd000), true),  // relro + data: writable
            (r(0x3dd280, 0x3ded88), true),
        ];
        let relro = [r(0x3c1350, 0x3dd000)];
        assert_eq!(
            plan(&segments, &relro, 0x1000),
            vec![r(0, 0x12a000), r(0x12c000, 0x3c0000)]
        );
    }

    #[test]
    fn a_read_only_segment_inside_relro_is_kept() {
        let segments = [(r(0x1000, 0x5000), false)];
        let relro = [r(0x4000, 0x6000)];
        assert!(plan(&segments, &relro, 0x1000).is_empty());
    }

    #[test]
    fn releasing_twice_keeps_the_program_running() {
        super::release();
        super::release();
        // Code and constants are mapped back on use.
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}

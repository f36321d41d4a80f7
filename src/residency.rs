//! Keeps the daemon's resident code to the code it runs.
//!
//! Most of an idle daemon's RSS is not memory it allocated but pages of its own executable
//! mapped from the page cache: 3.4 of 3.9 MiB of the binary were resident in an idle daemon
//! over TLS, although a quiet cycle runs a small part of it. Two things map them: the code run
//! once at start (argument parsing, configuration, the TLS set-up), and the kernel's
//! fault-around, which maps up to 16 neighbouring pages already in the page cache with every
//! page a fault asks for. So, on Linux:
//!
//! - `release` (after a daemon cycle, at most every 2 s: `release_if_due`) unmaps the executable's read-only segments with
//!   `MADV_DONTNEED`; a page the next cycle needs is mapped again from the page cache (a minor
//!   fault, no disk read). Only segments the program never writes are touched: text and
//!   read-only data outside the RELRO range (which the loader wrote relocations into and
//!   `MADV_DONTNEED` would revert to the file's bytes).
//! - A mapping holding a privately written page is left alone: a debugger's breakpoint or a
//!   uprobe (perf, bpftrace) is such a page, and dropping it would silently remove the probe.
//!   `/proc/self/smaps` shows it (`Anonymous:` above 0 in a file-backed text mapping); when
//!   that file cannot be read, nothing is released.
//!
//! The pages stay in the page cache: this changes what the process holds, not what the machine
//! caches, and it is safe to do at any time. It is measured by `scripts/bench` (the idle
//! daemon's RSS) and does nothing elsewhere.

/// Unmaps the executable's clean, read-only pages; the code still to run maps them back.
pub fn release() {
    #[cfg(target_os = "linux")]
    linux::release();
}

/// How often the daemon gives its code pages back at most: a cycle maps its pages back with a
/// few hundred minor faults, which once every few seconds costs nothing, but a test running a
/// day of cycles in virtual time (86,400 of them in a few real seconds) would spend its time
/// in page faults.
pub const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// `release`, unless the last one was less than `RELEASE_EVERY` ago (real time: the pages
/// come back in real time, whatever the daemon's clock says).
pub fn release_if_due() {
    static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let now = std::time::Instant::now();
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.is_some_and(|at| now.saturating_duration_since(at) < RELEASE_EVERY) {
        return;
    }
    *last = Some(now);
    drop(last);
    release();
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
        // Capped: a process's smaps is a few tens of KiB.
        let mut smaps = String::new();
        let read = std::fs::File::open("/proc/self/smaps").and_then(|file| {
            use std::io::Read as _;
            file.take(4 << 20).read_to_string(&mut smaps)
        });
        if read.is_err() {
            return;
        }
        let written = privately_written(&smaps);
        for range in read_only_ranges() {
            if written
                .iter()
                .any(|other| other.start < range.end && range.start < other.end)
            {
                continue;
            }
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

    /// The mappings of `/proc/self/smaps` that hold privately written pages (`Anonymous:`
    /// above 0): in a file-backed text mapping, a breakpoint or a uprobe. Pure.
    pub fn privately_written(smaps: &str) -> Vec<Range> {
        let mut found = Vec::new();
        let mut current: Option<Range> = None;
        for line in smaps.lines() {
            if let Some(range) = mapping_header(line) {
                current = Some(range);
            } else if let Some(rest) = line.strip_prefix("Anonymous:") {
                let kib: u64 = rest
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(1);
                if kib > 0 {
                    found.extend(current);
                }
            }
        }
        found
    }

    /// `55d0c0a00000-55d0c0a2a000 r-xp 00000000 fe:00 123 /usr/bin/flaredns` → its range.
    fn mapping_header(line: &str) -> Option<Range> {
        let (addresses, _) = line.split_once(' ')?;
        let (start, end) = addresses.split_once('-')?;
        Some(Range {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
        })
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
    use super::linux::{plan, privately_written, Range};

    #[test]
    fn a_mapping_with_a_privately_written_page_is_found() {
        let smaps = "\
55d0c0a00000-55d0c0a2a000 r--p 00000000 fe:00 123 /usr/bin/flaredns
Size:                168 kB
Anonymous:             0 kB
55d0c0a2a000-55d0c0c00000 r-xp 0002a000 fe:00 123 /usr/bin/flaredns
Size:               1880 kB
Anonymous:             4 kB
7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]
Anonymous:           132 kB
";
        assert_eq!(
            privately_written(smaps),
            vec![r(0x55d0c0a2a000, 0x55d0c0c00000), r(0x7ffd1000, 0x7ffd2000)]
        );
        assert!(privately_written("").is_empty());
        assert!(privately_written("garbage\nAnonymous: lots\n").is_empty());
    }

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

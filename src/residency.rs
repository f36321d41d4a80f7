//! Keeps the daemon's resident code to the code it runs.
//!
//! Most of an idle daemon's RSS is not memory it allocated but pages of its own executable
//! mapped from the page cache: 3.4 of 3.9 MiB of the binary were resident in an idle daemon
//! over TLS, although a quiet cycle runs a small part of it. Two things map them: the code run
//! once at start (argument parsing, configuration, the TLS set-up), and the kernel's
//! fault-around, which maps up to 16 neighbouring pages already in the page cache with every
//! page a fault asks for. So, on Linux:
//!
//! - `release` (after a daemon cycle, at most every 2 s: `Releaser`; around the `--once`
//!   cycle) unmaps the executable's read-only segments with `MADV_DONTNEED`; a page the next
//!   cycle needs is mapped again from the page cache (a minor fault, no disk read). Only
//!   segments the program never writes are touched: text and read-only data outside the
//!   RELRO range (which the loader wrote relocations into and `MADV_DONTNEED` would revert to
//!   the file's bytes).
//! - A page is given back only where `/proc/self/smaps` shows it in a mapping of the
//!   executable's own file (its inode or path, as `/proc/self/exe` names it), not writable,
//!   and holding no privately written page in memory, in swap or in huge pages
//!   (`Anonymous:`, `Swap:`, `Private_Hugetlb:` all 0). A debugger's breakpoint or a uprobe
//!   (perf, bpftrace) is such a page, and dropping it would silently remove the probe. When
//!   smaps cannot be read whole, nothing is given back. (A probe set in the milliseconds
//!   between reading smaps and the `madvise` would still be lost; a debugger attached for
//!   longer is seen.)
//!
//! The pages stay in the page cache: this changes what the process holds, not what the machine
//! caches. It is measured by `scripts/bench` (the idle daemon's RSS) and does nothing on other
//! systems.

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

/// The daemon's side: `release`, at most every `RELEASE_EVERY` of real time (the pages come
/// back in real time, whatever the daemon's clock says).
#[derive(Debug, Default)]
pub struct Releaser {
    last: Option<std::time::Instant>,
}

impl Releaser {
    pub fn release_if_due(&mut self) {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|at| now.saturating_duration_since(at) < RELEASE_EVERY)
        {
            return;
        }
        self.last = Some(now);
        release();
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// A page-aligned address range.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Range {
        pub start: usize,
        pub end: usize,
    }

    /// The most of `/proc/self/smaps` read: a process's is a few tens of KiB.
    const SMAPS_CAP: u64 = 4 << 20;

    pub fn release() {
        use std::os::unix::fs::MetadataExt as _;
        // The executable as smaps names it: its inode, or (on overlayfs, where the mapping
        // shows the lower file's inode) its path.
        let (Ok(metadata), Ok(path)) = (
            std::fs::metadata("/proc/self/exe"),
            std::fs::read_link("/proc/self/exe"),
        ) else {
            return;
        };
        let exe = Exe {
            inode: metadata.ino(),
            path: path.to_string_lossy().into_owned(),
        };
        let mut bytes = Vec::new();
        let read = std::fs::File::open("/proc/self/smaps").and_then(|file| {
            use std::io::Read as _;
            file.take(SMAPS_CAP + 1).read_to_end(&mut bytes)
        });
        if read.is_err() || bytes.len() as u64 > SMAPS_CAP {
            return;
        }
        let mappings = mappings(&String::from_utf8_lossy(&bytes));
        for range in read_only_ranges() {
            if !clean_and_ours(&mappings, range, &exe) {
                continue;
            }
            // SAFETY: smaps shows every page of the range in read-only mappings of this
            // executable's own file with no private page in memory, swap or huge pages: each
            // resident page is the page cache's copy of the file, so dropping it loses
            // nothing, and the next access maps the same bytes again. The range also lies in
            // a PT_LOAD segment without PF_W and outside PT_GNU_RELRO.
            unsafe {
                libc::madvise(
                    range.start as *mut libc::c_void,
                    range.end - range.start,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }

    /// The running executable: its inode and path.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Exe {
        pub inode: u64,
        pub path: String,
    }

    /// One mapping of `/proc/self/smaps`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Mapping {
        pub range: Range,
        pub writable: bool,
        pub inode: u64,
        /// The mapped file's path (empty for anonymous memory).
        pub path: String,
        /// `Anonymous:` + `Swap:` + `Private_Hugetlb:`, in kB (unreadable counts as 1).
        pub private_kib: u64,
    }

    /// The mappings of a `/proc/self/smaps` text. Pure.
    pub fn mappings(smaps: &str) -> Vec<Mapping> {
        let mut found: Vec<Mapping> = Vec::new();
        for line in smaps.lines() {
            if let Some(mapping) = mapping_header(line) {
                found.push(mapping);
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !matches!(key, "Anonymous" | "Swap" | "Private_Hugetlb") {
                continue;
            }
            let kib: u64 = value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(1);
            if let Some(last) = found.last_mut() {
                last.private_kib = last.private_kib.saturating_add(kib);
            }
        }
        found
    }

    /// Whether every page of `range` lies in mappings of the executable (by inode or path)
    /// that are not writable and hold no private page. Pure.
    pub fn clean_and_ours(mappings: &[Mapping], range: Range, exe: &Exe) -> bool {
        let mut covered = range.start;
        let mut overlapping: Vec<&Mapping> = mappings
            .iter()
            .filter(|mapping| mapping.range.start < range.end && range.start < mapping.range.end)
            .collect();
        overlapping.sort_by_key(|mapping| mapping.range.start);
        for mapping in overlapping {
            let ours =
                mapping.inode == exe.inode || (!exe.path.is_empty() && mapping.path == exe.path);
            if mapping.writable || !ours || mapping.private_kib > 0 {
                return false;
            }
            if mapping.range.start > covered {
                return false;
            }
            covered = covered.max(mapping.range.end);
        }
        covered >= range.end
    }

    /// `55d0c0a00000-55d0c0a2a000 r-xp 00000000 fe:00 123 /usr/bin/flaredns` → a mapping.
    fn mapping_header(line: &str) -> Option<Mapping> {
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let perms = fields.next()?;
        let _offset = fields.next()?;
        let _device = fields.next()?;
        let inode = fields.next()?.parse().ok()?;
        let path = fields.next().unwrap_or("").trim().to_string();
        if perms.len() != 4 {
            return None;
        }
        Some(Mapping {
            range: Range {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
            },
            writable: perms.as_bytes().get(1) == Some(&b'w'),
            inode,
            path,
            private_kib: 0,
        })
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
    use super::linux::{clean_and_ours, mappings, plan, Exe, Range};

    fn exe(inode: u64) -> Exe {
        Exe {
            inode,
            path: "/usr/bin/flaredns".to_string(),
        }
    }

    const SMAPS: &str = "\
55d0c0a00000-55d0c0a2a000 r--p 00000000 fe:00 123 /usr/bin/flaredns
Size:                168 kB
Anonymous:             0 kB
Swap:                  0 kB
Private_Hugetlb:       0 kB
55d0c0a2a000-55d0c0b00000 r-xp 0002a000 fe:00 123 /usr/bin/flaredns
Anonymous:             0 kB
Swap:                  0 kB
55d0c0b00000-55d0c0c00000 r-xp 00100000 fe:00 123 /usr/bin/flaredns
Anonymous:             0 kB
Swap:                  4 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:00 999 /usr/lib/libc.so.6
Anonymous:             0 kB
7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]
Anonymous:           132 kB
";

    #[test]
    fn only_whole_clean_mappings_of_the_executable_are_given_back() {
        let mappings = mappings(SMAPS);
        assert_eq!(mappings.len(), 5);
        let given_back =
            |start: usize, end: usize, exe: &Exe| clean_and_ours(&mappings, r(start, end), exe);
        let ours = exe(123);
        // Read-only data and the first text mapping: clean and ours.
        assert!(given_back(0x55d0c0a00000, 0x55d0c0b00000, &ours));
        // On overlayfs the mapping shows another inode, but the executable's path.
        assert!(given_back(0x55d0c0a00000, 0x55d0c0b00000, &exe(77)));
        // A breakpoint swapped out is still a written page.
        assert!(!given_back(0x55d0c0a2a000, 0x55d0c0c00000, &ours));
        // Another file, a writable mapping, not mapped at all: no.
        assert!(!given_back(0x7f0000000000, 0x7f0000001000, &ours));
        assert!(!given_back(0x7ffd1000, 0x7ffd2000, &exe(0)));
        assert!(!given_back(0x1000, 0x2000, &ours));
        let elsewhere = Exe {
            inode: 124,
            path: "/opt/other".to_string(),
        };
        assert!(!given_back(0x55d0c0a00000, 0x55d0c0a2b000, &elsewhere));
        // Garbage reads as nothing.
        assert!(mappings_of_garbage_are_empty());
    }

    fn mappings_of_garbage_are_empty() -> bool {
        super::linux::mappings("garbage\nAnonymous: lots\n").is_empty()
            && super::linux::mappings("").is_empty()
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

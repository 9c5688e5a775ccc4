//! The layout of a blob in object storage: one object ("segment") per upload request, named
//! by the blob offset it starts at, so that the blob is the segments in offset order.
//!
//! ```text
//!   PREFIX/ID/00000000000000000000   bytes 0 .. a         (first PATCH)
//!   PREFIX/ID/0000000000000000000a   bytes a .. b         (second PATCH, resumed at a)
//! ```
//!
//! Object storage cannot append, so each request writes a new object; resuming at offset `n`
//! deletes the segments that start at or after `n` and rewrites the one that spans `n` (if
//! any) cut down to end at `n`. Names are zero-padded so that listing order is offset order.

use std::io;

/// One segment object: where it starts in the blob and how many bytes it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    pub start: u64,
    pub len: u64,
}

impl Segment {
    /// The blob offset just past this segment.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// The object name of the segment starting at `start`.
pub(super) fn name(start: u64) -> String {
    format!("{start:020}")
}

/// The segment start an object name stands for; `None` for a name we did not write.
pub(super) fn parse_name(name: &str) -> Option<u64> {
    if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// What a writer at some offset must do before writing.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Cut {
    /// Segments starting at or after the offset: stale bytes of interrupted requests.
    pub remove: Vec<Segment>,
    /// The segment spanning the offset, whose first bytes the new segment carries over.
    pub carry: Option<Segment>,
}

/// A blob's segments, sorted by start.
#[derive(Debug, Default)]
pub(super) struct Segments(Vec<Segment>);

impl Segments {
    /// The segments of one blob from an object listing, in any order.
    pub fn new(mut segments: Vec<Segment>) -> Segments {
        segments.sort_by_key(|s| s.start);
        Segments(segments)
    }

    /// Whether the blob has no segment at all (it does not exist).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What opening a writer at `offset` must delete and carry over.
    ///
    /// Fails if the bytes before `offset` are not one gapless run from 0.
    pub fn cut_at(&self, offset: u64) -> io::Result<Cut> {
        let (kept, remove): (Vec<Segment>, Vec<Segment>) =
            self.0.iter().partition(|s| s.start < offset);
        let reached = gapless_end(&kept)?;
        if reached < offset {
            return Err(corrupt("blob is shorter than its recorded upload offset"));
        }
        let carry = kept.last().filter(|s| s.end() > offset).copied();
        Ok(Cut { remove, carry })
    }

    /// The segments to read for the bytes from `start` on, each with the bytes to skip.
    ///
    /// Fails if the segments are not one gapless run from 0, or end before `start`.
    pub fn read_from(&self, start: u64) -> io::Result<Vec<(Segment, u64)>> {
        let end = gapless_end(&self.0)?;
        if start > end {
            return Err(corrupt("read starts past the end of the blob"));
        }
        Ok(self
            .0
            .iter()
            .filter(|s| s.len > 0 && s.end() > start)
            .map(|s| (*s, start.saturating_sub(s.start)))
            .collect())
    }
}

/// The end of `segments` (sorted) if they follow each other from 0 without gap or overlap.
fn gapless_end(segments: &[Segment]) -> io::Result<u64> {
    segments.iter().try_fold(0, |end, s| {
        if s.start == end {
            Ok(s.end())
        } else {
            Err(corrupt("blob segments have a gap or overlap"))
        }
    })
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: u64, len: u64) -> Segment {
        Segment { start, len }
    }

    #[test]
    fn names_sort_like_offsets_and_parse_back() {
        assert_eq!(name(10), "00000000000000000010");
        assert!(name(9) < name(10));
        assert_eq!(parse_name(&name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "",
            "1",
            "0000000000000000001x",
            "000000000000000000010",
            "+0000000000000000001",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_cut_removes_later_segments_and_carries_the_spanning_one() {
        let blob = Segments::new(vec![seg(10, 5), seg(0, 10), seg(15, 3)]);
        let at_boundary = blob.cut_at(10).unwrap();
        assert_eq!(at_boundary.remove, vec![seg(10, 5), seg(15, 3)]);
        assert_eq!(at_boundary.carry, None);
        let inside = blob.cut_at(12).unwrap();
        assert_eq!(inside.remove, vec![seg(15, 3)]);
        assert_eq!(inside.carry, Some(seg(10, 5)));
        assert_eq!(
            blob.cut_at(18).unwrap(),
            Cut {
                remove: vec![],
                carry: None
            }
        );
        assert!(blob.cut_at(19).is_err(), "past the end");
        assert_eq!(Segments::default().cut_at(0).unwrap().remove, vec![]);
        assert!(Segments::default().cut_at(1).is_err());
    }

    #[test]
    fn gaps_and_overlaps_are_refused() {
        let gap = Segments::new(vec![seg(0, 4), seg(5, 4)]);
        assert!(gap.cut_at(9).is_err());
        assert!(gap.read_from(0).is_err());
        // Stale bytes past a gap do not matter to a writer that cuts before them.
        assert_eq!(gap.cut_at(4).unwrap().remove, vec![seg(5, 4)]);
        let overlap = Segments::new(vec![seg(0, 4), seg(2, 4)]);
        assert!(overlap.read_from(0).is_err());
        assert!(Segments::new(vec![seg(1, 4)]).read_from(1).is_err());
    }

    #[test]
    fn reads_skip_into_the_first_segment_they_need() {
        let blob = Segments::new(vec![seg(0, 4), seg(4, 4), seg(8, 0)]);
        assert_eq!(
            blob.read_from(0).unwrap(),
            vec![(seg(0, 4), 0), (seg(4, 4), 0)]
        );
        assert_eq!(blob.read_from(5).unwrap(), vec![(seg(4, 4), 1)]);
        assert_eq!(blob.read_from(8).unwrap(), vec![]);
        assert!(blob.read_from(9).is_err());
    }
}

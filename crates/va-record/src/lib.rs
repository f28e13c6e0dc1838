//! The recording format of v4l2-request-va (`LIBVA_V4L2_REQUEST_RECORD=<file>`):
//! the one definition of its magic, version, tags and record layouts, with the
//! encoder the driver's writer uses (`src/driver/record.rs`) and the parser
//! `tools/va-client` replays from (`va-client replay <file>`).
//!
//! # Format (version 1), all integers little-endian
//!
//! A file starts with the 8 bytes `V4L2RVAR` ([`MAGIC`]) and a `u32` version
//! ([`VERSION`], 1): [`HEADER`]. A file that already had content is appended to
//! without a new header. Then records, each `u32 tag`, `u32 payload length`,
//! payload ([`Tag`], [`Record`]):
//!
//! | tag | record | payload |
//! |---|---|---|
//! | 1 | INIT (driver instance created, vaInitialize) | `u32 pid` |
//! | 2 | CONFIG created | `i32 profile, u32 entrypoint, u32 config id` |
//! | 3 | SURFACES created | `u32 width, height, rt_format, fourcc (0: default), count`, `count x u32 surface id` |
//! | 4 | CONTEXT created | `u32 config, width, height, context id, n`, `n x u32 render target` |
//! | 5 | BEGIN picture | `u32 context, u32 target surface` |
//! | 6 | BUFFER rendered | `u32 context, u32 buffer type, u32 element size, u32 num_elements, u32 byte count`, bytes |
//! | 7 | END picture | `u32 context` |
//! | 8 | CONFIG destroyed | `u32 config id` |
//! | 9 | SURFACES destroyed | `u32 n`, `n x u32 surface id` |
//! | 10 | CONTEXT destroyed | `u32 context id` |
//!
//! The driver records creations only when they succeeded (with the IDs
//! returned) and BEGIN/BUFFER/END as called. Object IDs are deterministic per
//! driver instance (tagged counters from 1), so a replay that creates the same
//! objects in the same order gets the same IDs, and the surface IDs inside
//! recorded parameter buffers stay valid. A file can hold several driver
//! instances (one INIT each).
//!
//! # Reading
//!
//! [`records`] checks the header and iterates over the records. Every record
//! is framed by its length, so a record of an unknown tag
//! ([`Error::UnknownTag`]) or with a payload shorter than its layout
//! ([`Error::Malformed`]) is an error item after which the iteration goes on
//! (readers skip unknown tags: a later writer may add some); payload bytes past
//! a layout are ignored (room for appended fields). A cut-off record
//! ([`Error::Truncated`]: a crash while writing) ends the iteration. Bad input
//! is an error, never a panic, and nothing is allocated beyond what the input
//! holds.
//!
//! `tests/e2e/proof.py` reads the tag/length framing too (it counts END
//! records); it is Python and keeps its own two tag numbers.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;

/// File magic.
pub const MAGIC: [u8; 8] = *b"V4L2RVAR";
/// Format version.
pub const VERSION: u32 = 1;
/// Bytes of the file header: [`MAGIC`], then [`VERSION`].
pub const HEADER_LEN: usize = 12;
/// The file header: [`MAGIC`], then [`VERSION`] (`u32`, little-endian).
pub const HEADER: [u8; HEADER_LEN] = {
    let v = VERSION.to_le_bytes();
    let m = MAGIC;
    [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], v[0], v[1], v[2], v[3]]
};
/// Bytes before each payload: `u32 tag`, `u32 payload length`.
pub const RECORD_HEAD_LEN: usize = 8;

/// The record tags (the first `u32` of each record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Tag {
    /// A driver instance was created (vaInitialize).
    Init = 1,
    /// A config was created.
    Config = 2,
    /// Surfaces were created.
    Surfaces = 3,
    /// A context was created.
    Context = 4,
    /// vaBeginPicture.
    Begin = 5,
    /// A buffer was rendered (vaRenderPicture).
    Buffer = 6,
    /// vaEndPicture.
    End = 7,
    /// A config was destroyed.
    DestroyConfig = 8,
    /// Surfaces were destroyed.
    DestroySurfaces = 9,
    /// A context was destroyed.
    DestroyContext = 10,
}

impl Tag {
    /// Every tag, in numeric order.
    pub const ALL: [Tag; 10] = [
        Tag::Init,
        Tag::Config,
        Tag::Surfaces,
        Tag::Context,
        Tag::Begin,
        Tag::Buffer,
        Tag::End,
        Tag::DestroyConfig,
        Tag::DestroySurfaces,
        Tag::DestroyContext,
    ];

    /// The tag of a number, if it is one.
    pub const fn from_u32(v: u32) -> Option<Tag> {
        Some(match v {
            1 => Tag::Init,
            2 => Tag::Config,
            3 => Tag::Surfaces,
            4 => Tag::Context,
            5 => Tag::Begin,
            6 => Tag::Buffer,
            7 => Tag::End,
            8 => Tag::DestroyConfig,
            9 => Tag::DestroySurfaces,
            10 => Tag::DestroyContext,
            _ => return None,
        })
    }

    /// The number written to the file.
    pub const fn to_u32(self) -> u32 {
        self as u32
    }

    /// The name the format table uses (`INIT`, `CONFIG`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Tag::Init => "INIT",
            Tag::Config => "CONFIG",
            Tag::Surfaces => "SURFACES",
            Tag::Context => "CONTEXT",
            Tag::Begin => "BEGIN",
            Tag::Buffer => "BUFFER",
            Tag::End => "END",
            Tag::DestroyConfig => "DESTROY_CONFIG",
            Tag::DestroySurfaces => "DESTROY_SURFACES",
            Tag::DestroyContext => "DESTROY_CONTEXT",
        }
    }

    /// `u32` words of the payload before its list or bytes (the list or byte
    /// count is the last of them for [`Tag::Surfaces`], [`Tag::Context`],
    /// [`Tag::DestroySurfaces`] and [`Tag::Buffer`]).
    const fn fixed_words(self) -> usize {
        match self {
            Tag::Init | Tag::End | Tag::DestroyConfig | Tag::DestroySurfaces | Tag::DestroyContext => 1,
            Tag::Begin => 2,
            Tag::Config => 3,
            Tag::Surfaces | Tag::Context | Tag::Buffer => 5,
        }
    }
}

/// One record. Lists and bytes borrow when encoding (the driver's writer
/// allocates nothing for them) and are owned after parsing ([`Record::decode`]
/// decodes the `u32` lists, borrows the bytes; [`Record::into_owned`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// [`Tag::Init`]: the process id.
    Init { pid: u32 },
    /// [`Tag::Config`]: `VAProfile`, `VAEntrypoint`, the config id returned.
    Config { profile: i32, entrypoint: u32, id: u32 },
    /// [`Tag::Surfaces`]: size, RT format, the requested fourcc (0: default), the ids returned.
    Surfaces { width: u32, height: u32, rt_format: u32, fourcc: u32, ids: Cow<'a, [u32]> },
    /// [`Tag::Context`]: config, size, the context id returned, the render targets.
    Context { config: u32, width: u32, height: u32, id: u32, targets: Cow<'a, [u32]> },
    /// [`Tag::Begin`]: context, target surface.
    Begin { context: u32, target: u32 },
    /// [`Tag::Buffer`]: context, `VABufferType`, element size, element count, the bytes.
    Buffer { context: u32, buf_type: u32, element_size: u32, num_elements: u32, bytes: Cow<'a, [u8]> },
    /// [`Tag::End`]: context.
    End { context: u32 },
    /// [`Tag::DestroyConfig`]: config id.
    DestroyConfig { id: u32 },
    /// [`Tag::DestroySurfaces`]: surface ids.
    DestroySurfaces { ids: Cow<'a, [u32]> },
    /// [`Tag::DestroyContext`]: context id.
    DestroyContext { id: u32 },
}

/// Errors of encoding and parsing. Offsets are byte offsets in the file (0
/// for [`Record::decode`] on its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input does not start with [`MAGIC`] (or is shorter than [`HEADER`]).
    BadMagic,
    /// A version this crate does not read.
    Version(u32),
    /// The input ends inside a record's head or payload.
    Truncated {
        /// Where the record starts.
        offset: usize,
        /// Its tag, when the head is complete.
        tag: Option<u32>,
    },
    /// A payload shorter than its tag's layout (or than its own counts say).
    Malformed {
        /// Where the record starts.
        offset: usize,
        /// Its tag.
        tag: Tag,
        /// Its payload length.
        len: usize,
    },
    /// A tag this crate does not know.
    UnknownTag {
        /// Where the record starts.
        offset: usize,
        /// The tag.
        tag: u32,
        /// Its payload length.
        len: usize,
    },
    /// A record whose payload (or a list or byte count) does not fit a `u32`.
    TooLarge,
}

impl Error {
    /// The same error at file offset `offset`.
    fn at(self, offset: usize) -> Self {
        match self {
            Self::Truncated { tag, .. } => Self::Truncated { offset, tag },
            Self::Malformed { tag, len, .. } => Self::Malformed { offset, tag, len },
            Self::UnknownTag { tag, len, .. } => Self::UnknownTag { offset, tag, len },
            e => e,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a LIBVA_V4L2_REQUEST_RECORD file (bad magic)"),
            Self::Version(v) => write!(f, "record format version {v} (this reader reads {VERSION})"),
            Self::Truncated { offset, tag: Some(t) } => write!(f, "truncated record (tag {t}) at byte {offset}"),
            Self::Truncated { offset, tag: None } => write!(f, "truncated record header at byte {offset}"),
            Self::Malformed { offset, tag, len } => {
                write!(f, "malformed record (tag {} {}, {len} bytes) at byte {offset}", *tag as u32, tag.name())
            }
            Self::UnknownTag { offset, tag, len } => write!(f, "unknown record tag {tag} ({len} bytes) at byte {offset}"),
            Self::TooLarge => write!(f, "record too large for its u32 length fields"),
        }
    }
}

impl std::error::Error for Error {}

/// A `u32` count or length, or [`Error::TooLarge`].
fn len32(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::TooLarge)
}

/// The little-endian `u32` at word `i` of `p`, if there.
fn word(p: &[u8], i: usize) -> Option<u32> {
    let at = i.checked_mul(4)?;
    let b = p.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `n` little-endian `u32`s from word `first` of `p`, if there.
fn words(p: &[u8], first: usize, n: u32) -> Option<Vec<u32>> {
    let start = first.checked_mul(4)?;
    let end = (n as usize).checked_mul(4)?.checked_add(start)?;
    let b = p.get(start..end)?;
    Some(b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A payload as the format table lays it out: the first `n` words of `fixed`
/// (a list or byte count last, where there is one), then `list`, then `bytes`.
struct Layout<'r> {
    fixed: [u32; 5],
    n: usize,
    list: &'r [u32],
    bytes: &'r [u8],
}

impl Layout<'_> {
    /// Bytes of the payload; [`Error::TooLarge`] past `u32::MAX`.
    fn len(&self) -> Result<usize, Error> {
        let len = (self.n + self.list.len()).checked_mul(4).and_then(|w| w.checked_add(self.bytes.len())).ok_or(Error::TooLarge)?;
        len32(len).map(|_| len)
    }
}

impl<'a> Record<'a> {
    /// The record's tag.
    pub fn tag(&self) -> Tag {
        match self {
            Self::Init { .. } => Tag::Init,
            Self::Config { .. } => Tag::Config,
            Self::Surfaces { .. } => Tag::Surfaces,
            Self::Context { .. } => Tag::Context,
            Self::Begin { .. } => Tag::Begin,
            Self::Buffer { .. } => Tag::Buffer,
            Self::End { .. } => Tag::End,
            Self::DestroyConfig { .. } => Tag::DestroyConfig,
            Self::DestroySurfaces { .. } => Tag::DestroySurfaces,
            Self::DestroyContext { .. } => Tag::DestroyContext,
        }
    }

    /// The payload as the format table lays it out.
    fn layout(&self) -> Result<Layout<'_>, Error> {
        let (fixed, list, bytes): ([u32; 5], &[u32], &[u8]) = match self {
            Self::Init { pid } => ([*pid, 0, 0, 0, 0], &[], &[]),
            Self::Config { profile, entrypoint, id } => ([*profile as u32, *entrypoint, *id, 0, 0], &[], &[]),
            Self::Surfaces { width, height, rt_format, fourcc, ids } => {
                ([*width, *height, *rt_format, *fourcc, len32(ids.len())?], ids, &[])
            }
            Self::Context { config, width, height, id, targets } => ([*config, *width, *height, *id, len32(targets.len())?], targets, &[]),
            Self::Begin { context, target } => ([*context, *target, 0, 0, 0], &[], &[]),
            Self::Buffer { context, buf_type, element_size, num_elements, bytes } => {
                ([*context, *buf_type, *element_size, *num_elements, len32(bytes.len())?], &[], bytes)
            }
            Self::End { context } => ([*context, 0, 0, 0, 0], &[], &[]),
            Self::DestroyConfig { id } => ([*id, 0, 0, 0, 0], &[], &[]),
            Self::DestroySurfaces { ids } => ([len32(ids.len())?, 0, 0, 0, 0], ids, &[]),
            Self::DestroyContext { id } => ([*id, 0, 0, 0, 0], &[], &[]),
        };
        Ok(Layout { fixed, n: self.tag().fixed_words(), list, bytes })
    }

    /// Bytes of the payload (the record's second `u32`).
    pub fn payload_len(&self) -> Result<usize, Error> {
        self.layout()?.len()
    }

    /// Bytes of the whole record (head and payload).
    pub fn encoded_len(&self) -> Result<usize, Error> {
        self.payload_len()?.checked_add(RECORD_HEAD_LEN).ok_or(Error::TooLarge)
    }

    /// Appends the record (tag, payload length, payload) to `out`, growing it
    /// at most once; on error `out` is left as it was. With enough capacity
    /// (a buffer reused from record to record) it allocates nothing.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let l = self.layout()?;
        let len = l.len()?;
        out.reserve(RECORD_HEAD_LEN + len);
        out.extend_from_slice(&self.tag().to_u32().to_le_bytes());
        out.extend_from_slice(&len32(len)?.to_le_bytes());
        for w in l.fixed[..l.n].iter().chain(l.list) {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(l.bytes);
        Ok(())
    }

    /// The record of tag `tag` from its payload. Lists are decoded (owned),
    /// bytes borrowed. Errors carry offset 0 ([`records`] sets the file's).
    pub fn decode(tag: u32, payload: &'a [u8]) -> Result<Self, Error> {
        let len = payload.len();
        let Some(t) = Tag::from_u32(tag) else { return Err(Error::UnknownTag { offset: 0, tag, len }) };
        let bad = Error::Malformed { offset: 0, tag: t, len };
        let mut w = [0u32; 5];
        for (i, v) in w.iter_mut().enumerate().take(t.fixed_words()) {
            *v = word(payload, i).ok_or_else(|| bad.clone())?;
        }
        let list = |first: usize, n: u32| words(payload, first, n).map(Cow::Owned).ok_or_else(|| bad.clone());
        Ok(match t {
            Tag::Init => Self::Init { pid: w[0] },
            Tag::Config => Self::Config { profile: w[0] as i32, entrypoint: w[1], id: w[2] },
            Tag::Surfaces => Self::Surfaces { width: w[0], height: w[1], rt_format: w[2], fourcc: w[3], ids: list(5, w[4])? },
            Tag::Context => Self::Context { config: w[0], width: w[1], height: w[2], id: w[3], targets: list(5, w[4])? },
            Tag::Begin => Self::Begin { context: w[0], target: w[1] },
            Tag::Buffer => {
                let bytes = 20usize.checked_add(w[4] as usize).and_then(|end| payload.get(20..end)).ok_or_else(|| bad.clone())?;
                Self::Buffer { context: w[0], buf_type: w[1], element_size: w[2], num_elements: w[3], bytes: Cow::Borrowed(bytes) }
            }
            Tag::End => Self::End { context: w[0] },
            Tag::DestroyConfig => Self::DestroyConfig { id: w[0] },
            Tag::DestroySurfaces => Self::DestroySurfaces { ids: list(1, w[0])? },
            Tag::DestroyContext => Self::DestroyContext { id: w[0] },
        })
    }

    /// The record with its lists and bytes owned.
    pub fn into_owned(self) -> Record<'static> {
        let own32 = |c: Cow<'_, [u32]>| Cow::Owned(c.into_owned());
        match self {
            Self::Init { pid } => Record::Init { pid },
            Self::Config { profile, entrypoint, id } => Record::Config { profile, entrypoint, id },
            Self::Surfaces { width, height, rt_format, fourcc, ids } => {
                Record::Surfaces { width, height, rt_format, fourcc, ids: own32(ids) }
            }
            Self::Context { config, width, height, id, targets } => Record::Context { config, width, height, id, targets: own32(targets) },
            Self::Begin { context, target } => Record::Begin { context, target },
            Self::Buffer { context, buf_type, element_size, num_elements, bytes } => {
                Record::Buffer { context, buf_type, element_size, num_elements, bytes: Cow::Owned(bytes.into_owned()) }
            }
            Self::End { context } => Record::End { context },
            Self::DestroyConfig { id } => Record::DestroyConfig { id },
            Self::DestroySurfaces { ids } => Record::DestroySurfaces { ids: own32(ids) },
            Self::DestroyContext { id } => Record::DestroyContext { id },
        }
    }
}

/// The records of a whole file, after its header is checked.
pub fn records(data: &[u8]) -> Result<Records<'_>, Error> {
    let magic = data.get(..MAGIC.len()).ok_or(Error::BadMagic)?;
    if magic != MAGIC {
        return Err(Error::BadMagic);
    }
    let version = word(data, 2).ok_or(Error::BadMagic)?;
    if version != VERSION {
        return Err(Error::Version(version));
    }
    Ok(Records { data, at: HEADER_LEN })
}

/// Iterator over the records of a file ([`records`]): each item a record or
/// the error of one record. Unknown tags and malformed payloads are error
/// items the iteration goes on after; a truncated record is the last item.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Records<'a> {
    /// Byte offset of the next record in the file.
    pub fn offset(&self) -> usize {
        self.at
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at;
        let rest = self.data.get(at..).filter(|r| !r.is_empty())?;
        let (Some(tag), Some(len)) = (word(rest, 0), word(rest, 1)) else {
            self.at = self.data.len();
            return Some(Err(Error::Truncated { offset: at, tag: None }));
        };
        let Some(payload) = RECORD_HEAD_LEN.checked_add(len as usize).and_then(|end| rest.get(RECORD_HEAD_LEN..end)) else {
            self.at = self.data.len();
            return Some(Err(Error::Truncated { offset: at, tag: Some(tag) }));
        };
        self.at = at + RECORD_HEAD_LEN + payload.len();
        Some(Record::decode(tag, payload).map_err(|e| e.at(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record of every tag, lists and bytes included (some empty).
    fn samples() -> Vec<Record<'static>> {
        vec![
            Record::Init { pid: 4242 },
            Record::Config { profile: -1, entrypoint: 1, id: 0x0100_0001 },
            Record::Surfaces { width: 176, height: 144, rt_format: 1, fourcc: 0x3231_564e, ids: vec![0x0400_0001, 0x0400_0002].into() },
            Record::Surfaces { width: 64, height: 64, rt_format: 0x100, fourcc: 0, ids: Vec::new().into() },
            Record::Context {
                config: 0x0100_0001,
                width: 176,
                height: 144,
                id: 0x0200_0001,
                targets: vec![0x0400_0001, 0x0400_0002, 7].into(),
            },
            Record::Begin { context: 0x0200_0001, target: 0x0400_0002 },
            Record::Buffer { context: 0x0200_0001, buf_type: 5, element_size: 3, num_elements: 1, bytes: vec![7, 8, 9].into() },
            Record::Buffer { context: 1, buf_type: 0, element_size: 0, num_elements: 0, bytes: Vec::new().into() },
            Record::End { context: 0x0200_0001 },
            Record::DestroyConfig { id: 0x0100_0001 },
            Record::DestroySurfaces { ids: vec![0x0400_0001].into() },
            Record::DestroyContext { id: 0x0200_0001 },
        ]
    }

    fn file(recs: &[Record<'_>]) -> Vec<u8> {
        let mut f = HEADER.to_vec();
        for r in recs {
            r.encode(&mut f).unwrap();
        }
        f
    }

    #[test]
    fn header_and_tags() {
        assert_eq!(&HEADER[..8], b"V4L2RVAR");
        assert_eq!(&HEADER[8..], &1u32.to_le_bytes());
        for (i, t) in Tag::ALL.iter().enumerate() {
            assert_eq!(t.to_u32(), i as u32 + 1);
            assert_eq!(Tag::from_u32(t.to_u32()), Some(*t));
        }
        assert_eq!(Tag::from_u32(0), None);
        assert_eq!(Tag::from_u32(11), None);
        let tags: Vec<Tag> = samples().iter().map(Record::tag).collect();
        assert!(Tag::ALL.iter().all(|t| tags.contains(t)), "a sample of every tag");
    }

    #[test]
    fn layout_matches_the_table() {
        let r = Record::Buffer { context: 0x0200_0001, buf_type: 4, element_size: 2, num_elements: 1, bytes: Cow::Borrowed(&[1, 2, 3]) };
        let mut v = Vec::new();
        r.encode(&mut v).unwrap();
        assert_eq!(&v[..4], &6u32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(v[4..8].try_into().unwrap()), 23);
        assert_eq!(v.len(), 8 + 23);
        assert_eq!(r.encoded_len(), Ok(v.len()));
        assert_eq!(&v[8..12], &0x0200_0001u32.to_le_bytes());
        assert_eq!(&v[24..28], &3u32.to_le_bytes(), "byte count");
        assert_eq!(&v[28..], &[1, 2, 3]);
        let mut v = Vec::new();
        Record::Config { profile: -1, entrypoint: 1, id: 9 }.encode(&mut v).unwrap();
        assert_eq!(v, [2, 0, 0, 0, 12, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 9, 0, 0, 0]);
        let mut v = Vec::new();
        Record::DestroySurfaces { ids: Cow::Borrowed(&[5, 6]) }.encode(&mut v).unwrap();
        assert_eq!(v, [9, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0]);
    }

    #[test]
    fn round_trip_every_tag() {
        let recs = samples();
        for r in &recs {
            let mut v = Vec::new();
            r.encode(&mut v).unwrap();
            assert_eq!(r.encoded_len(), Ok(v.len()));
            let len = u32::from_le_bytes(v[4..8].try_into().unwrap()) as usize;
            assert_eq!(len, v.len() - 8);
            let back = Record::decode(u32::from_le_bytes(v[..4].try_into().unwrap()), &v[8..]).unwrap();
            assert_eq!(&back, r, "{:?}", r.tag());
            assert_eq!(back.into_owned(), *r);
        }
        let f = file(&recs);
        let back: Vec<Record<'_>> = records(&f).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(back, recs);
    }

    #[test]
    fn encode_reuses_capacity() {
        let mut buf = Vec::with_capacity(64);
        let before = buf.as_ptr();
        for r in samples() {
            buf.clear();
            r.encode(&mut buf).unwrap();
        }
        assert_eq!(buf.as_ptr(), before, "no reallocation when the capacity suffices");
    }

    #[test]
    fn bad_headers() {
        assert_eq!(records(b"").unwrap_err(), Error::BadMagic);
        assert_eq!(records(b"nope").unwrap_err(), Error::BadMagic);
        assert_eq!(records(b"V4L2RVAR").unwrap_err(), Error::BadMagic);
        assert_eq!(records(b"V4L2RVAR\x01\x00").unwrap_err(), Error::BadMagic);
        assert_eq!(records(b"V4L2RVAX\x01\x00\x00\x00").unwrap_err(), Error::BadMagic);
        assert_eq!(records(b"V4L2RVAR\x02\x00\x00\x00").unwrap_err(), Error::Version(2));
        assert_eq!(records(&HEADER).unwrap().count(), 0);
    }

    #[test]
    fn truncated_input_is_an_error_at_every_cut() {
        let f = file(&samples());
        let whole = records(&f).unwrap().count();
        for cut in HEADER_LEN + 1..f.len() {
            let items: Vec<_> = records(&f[..cut]).unwrap().collect();
            let last = items.last().expect("a cut inside a record yields at least its error");
            match last {
                Err(Error::Truncated { offset, .. }) => assert!(*offset < cut),
                Ok(_) => {
                    // The cut fell between records: no error, fewer records.
                    assert!(items.len() < whole);
                    assert!(items.iter().all(Result::is_ok));
                    continue;
                }
                Err(e) => panic!("cut at {cut}: {e}"),
            }
            assert!(items[..items.len() - 1].iter().all(Result::is_ok), "cut at {cut}");
        }
        // A cut head and a cut payload, named.
        let mut it = records(&f[..HEADER_LEN + 5]).unwrap();
        assert_eq!(it.next(), Some(Err(Error::Truncated { offset: 12, tag: None })));
        assert_eq!(it.next(), None);
        let mut it = records(&f[..HEADER_LEN + 9]).unwrap();
        assert_eq!(it.next(), Some(Err(Error::Truncated { offset: 12, tag: Some(1) })));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn unknown_tags_are_errors_the_reader_can_skip() {
        let mut f = HEADER.to_vec();
        Record::Init { pid: 1 }.encode(&mut f).unwrap();
        let unknown_at = f.len();
        f.extend_from_slice(&99u32.to_le_bytes());
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        Record::End { context: 3 }.encode(&mut f).unwrap();
        let items: Vec<_> = records(&f).unwrap().collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], Ok(Record::Init { pid: 1 }));
        assert_eq!(items[1], Err(Error::UnknownTag { offset: unknown_at, tag: 99, len: 8 }));
        assert_eq!(items[2], Ok(Record::End { context: 3 }));
        assert_eq!(Record::decode(0, &[]), Err(Error::UnknownTag { offset: 0, tag: 0, len: 0 }));
        assert!(items[1].as_ref().unwrap_err().to_string().contains("unknown record tag 99"));
    }

    #[test]
    fn short_payloads_are_malformed() {
        for r in samples() {
            let mut v = Vec::new();
            r.encode(&mut v).unwrap();
            let tag = r.tag().to_u32();
            // Every payload shorter than the whole one fails to decode.
            for cut in 0..v.len() - 8 {
                match Record::decode(tag, &v[8..8 + cut]) {
                    Err(Error::Malformed { tag: t, len, .. }) => assert_eq!((t, len), (r.tag(), cut)),
                    other => panic!("{:?} cut to {cut}: {other:?}", r.tag()),
                }
            }
        }
        // Counts larger than the payload (up to u32::MAX): malformed, nothing allocated for them.
        let mut p = [0u8; 20];
        p[16..].copy_from_slice(&u32::MAX.to_le_bytes());
        for tag in [Tag::Surfaces, Tag::Context, Tag::Buffer] {
            assert!(matches!(Record::decode(tag.to_u32(), &p), Err(Error::Malformed { .. })), "{tag:?}");
        }
        assert!(matches!(Record::decode(9, &u32::MAX.to_le_bytes()), Err(Error::Malformed { .. })));
        // Extra payload bytes past the layout are ignored.
        assert_eq!(Record::decode(7, &[5, 0, 0, 0, 0xee]), Ok(Record::End { context: 5 }));
        // A malformed record in a file: an error item, the next record still read.
        let mut f = HEADER.to_vec();
        f.extend_from_slice(&5u32.to_le_bytes());
        f.extend_from_slice(&4u32.to_le_bytes());
        f.extend_from_slice(&[1, 0, 0, 0]);
        Record::End { context: 1 }.encode(&mut f).unwrap();
        let items: Vec<_> = records(&f).unwrap().collect();
        assert_eq!(items[0], Err(Error::Malformed { offset: 12, tag: Tag::Begin, len: 4 }));
        assert_eq!(items[1], Ok(Record::End { context: 1 }));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic generator (no dependencies): random bodies after a
        // valid header, and mutations of a valid file.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let valid = file(&samples());
        for i in 0..4000 {
            let mut f = if i % 2 == 0 { HEADER.to_vec() } else { valid.clone() };
            if i % 2 == 0 {
                let n = (next() % 96) as usize;
                // Small tags and lengths are the interesting ones.
                f.extend((0..n).map(|_| match next() % 4 {
                    0 => (next() % 12) as u8,
                    1 => 0xff,
                    _ => next() as u8,
                }));
            } else {
                for _ in 0..1 + next() % 4 {
                    let at = HEADER_LEN + (next() as usize) % (f.len() - HEADER_LEN);
                    f[at] = next() as u8;
                }
                f.truncate(HEADER_LEN + (next() as usize) % (f.len() - HEADER_LEN + 1));
            }
            let mut it = records(&f).unwrap();
            let mut n = 0;
            while let Some(r) = it.next() {
                n += 1;
                assert!(n <= f.len(), "the iteration ends");
                if let Ok(r) = r {
                    // What was read encodes again to a record of the same tag.
                    let mut v = Vec::new();
                    r.encode(&mut v).unwrap();
                    assert_eq!(Record::decode(r.tag().to_u32(), &v[8..]).unwrap(), r);
                }
                assert!(it.offset() <= f.len());
            }
        }
    }

    #[test]
    fn too_large_is_an_error_not_a_panic() {
        // A list longer than u32::MAX cannot be built in a test; the checks
        // are the same function for every count.
        assert_eq!(len32(u32::MAX as usize), Ok(u32::MAX));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(len32(u32::MAX as usize + 1), Err(Error::TooLarge));
    }
}

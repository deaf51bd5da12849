//! EBML, the binary format under Matroska and WebM: element IDs and sizes (variable-length
//! integers) read from wherever they are, and written back.

/// An element ID (marker bits kept, as the specs write them) and how many bytes it took; None
/// while incomplete or when the first byte cannot start an ID.
pub fn read_id(b: &[u8]) -> Option<(u32, usize)> {
    let len = b.first()?.leading_zeros() as usize + 1;
    if len > 4 || b.len() < len {
        return None;
    }
    Some((b[..len].iter().fold(0, |v, &x| v << 8 | x as u32), len))
}

/// Why an element header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// More bytes are needed.
    Incomplete,
    /// These bytes are not an element header.
    Invalid,
}

/// An element's ID, its size (None: "unknown", all ones, which live streams use for Segment and
/// Cluster) and the header's length.
pub fn read_header(b: &[u8]) -> Result<(u32, Option<u64>, usize), Header> {
    let first = *b.first().ok_or(Header::Incomplete)?;
    if first == 0 || first.leading_zeros() >= 4 {
        return Err(Header::Invalid);
    }
    let (id, id_len) = read_id(b).ok_or(Header::Incomplete)?;
    match read_size(&b[id_len..]) {
        Some((size, len)) => Ok((id, size, id_len + len)),
        None if b.len() > id_len && b[id_len] == 0 => Err(Header::Invalid),
        None => Err(Header::Incomplete),
    }
}

/// An EBML size: None for "unknown" (all ones). The outer None: incomplete, or a first byte of 0.
pub fn read_size(b: &[u8]) -> Option<(Option<u64>, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len {
        return None;
    }
    let mask = 0xFFu64 >> len;
    let v = b[1..len]
        .iter()
        .fold(first as u64 & mask, |v, &x| v << 8 | x as u64);
    let unknown = v == (1u64 << (7 * len)) - 1;
    Some((if unknown { None } else { Some(v) }, len))
}

/// An unsigned integer element's value (big-endian, up to 8 bytes).
pub fn read_uint(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0, |v, &x| v << 8 | x as u64)
}

/// Walks the children of a master element's body: (id, body) for each whole child.
pub fn children(mut body: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    std::iter::from_fn(move || {
        let (id, size, head) = read_header(body).ok()?;
        let size = usize::try_from(size?).ok()?;
        let child = body.get(head..head.checked_add(size)?)?;
        body = &body[head + size..];
        Some((id, child))
    })
}

/// The size "unknown": the element runs until something that cannot be inside it.
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

pub fn write_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// The shortest size encoding for `n` (sizes up to 2^56 - 2).
pub fn write_size(out: &mut Vec<u8>, n: u64) {
    let len = (1..=8).find(|&l| n < (1u64 << (7 * l)) - 1).unwrap_or(8);
    let marked = n | 1u64 << (7 * len);
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// An element with a body.
pub fn write_element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    write_id(out, id);
    write_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// An unsigned integer element, in as few bytes as it needs.
pub fn write_uint(out: &mut Vec<u8>, id: u32, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    write_element(out, id, &bytes[skip..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ids_round_trip() {
        for n in [0u64, 1, 126, 127, 128, 16382, 16383, 1 << 20, (1 << 49) + 3] {
            let mut out = Vec::new();
            write_size(&mut out, n);
            assert_eq!(read_size(&out), Some((Some(n), out.len())), "{n}");
        }
        assert_eq!(read_size(&UNKNOWN_SIZE), Some((None, 8)));
        for id in [0xA3u32, 0x4286, 0x2AD7B1, 0x1F43B675] {
            let mut out = Vec::new();
            write_id(&mut out, id);
            write_size(&mut out, 3);
            assert_eq!(read_header(&out), Ok((id, Some(3), out.len())));
        }
        assert_eq!(read_header(&[0x00, 0x81]), Err(Header::Invalid));
        assert_eq!(read_header(&[0xA3, 0x00]), Err(Header::Invalid));
        assert_eq!(read_header(&[0x1F, 0x43]), Err(Header::Incomplete));
    }
}

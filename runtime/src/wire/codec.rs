//! The codec: postcard, with inlined entry points and errors that carry a
//! handle's own reason.

use serde::Serialize;

use super::handles::HANDLE_ERROR;
use crate::error::Error;

/// Encodes a value with postcard.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<Vec<u8>, Error> {
    HANDLE_ERROR.with(|h| h.borrow_mut().take());
    postcard::to_stdvec(value).map_err(|e| Error::Codec {
        what: format!("encode {what}"),
        reason: codec_failure(&e),
    })
}

/// Why encoding or decoding failed, in words, including a handle's own reason.
pub(crate) fn codec_failure(e: &postcard::Error) -> String {
    HANDLE_ERROR
        .with(|h| h.borrow_mut().take())
        .map_or_else(|| e.to_string(), |why| format!("{e}: {why}"))
}

/// Appends the postcard encoding of `value` to `out`.
#[inline]
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    // `serialize_with_flavor` is not marked inline, and a call per value
    // cost as much as the encoding of a small one.
    value.serialize(&mut postcard::Serializer {
        output: Append(out),
    })
}

/// postcard output appended to a `Vec`. Short runs are copied by an inlined
/// loop after one capacity check: a `memcpy` call per varint would cost more
/// than the copy itself.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() <= 16 {
            self.0.extend(data.iter().copied());
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// `postcard::take_from_bytes`, which postcard does not mark inline: a call
/// per small value cost as much as decoding it.
#[inline]
pub(crate) fn take_from_bytes<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> postcard::Result<(T, &'a [u8])> {
    let mut deserializer = postcard::Deserializer::from_bytes(bytes);
    let value = T::deserialize(&mut deserializer)?;
    Ok((value, deserializer.finalize()?))
}

/// Decodes a value with postcard; bytes left over after it are an error,
/// since they mean the frame is not what the sender encoded.
#[inline]
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, Error> {
    match take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(trailing(what, rest.len())),
        Err(e) => Err(undecodable(what, &e)),
    }
}

#[cold]
fn trailing(what: &str, left: usize) -> Error {
    Error::Codec {
        what: format!("decode {what}"),
        reason: format!("{left} bytes were left over after the value"),
    }
}

#[cold]
fn undecodable(what: &str, e: &postcard::Error) -> Error {
    Error::Codec {
        what: format!("decode {what}"),
        reason: codec_failure(e),
    }
}

/// Appends whatever `write` appends, preceded by its length as a postcard
/// varint (one byte below 128: most items are a few bytes, and a fixed four
/// bytes of length more than doubled them). What does not fit a `u32` length
/// is dropped, leaving an empty item, and `false` returned.
#[inline]
pub(crate) fn push_prefixed(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) -> bool {
    let mark = out.len();
    out.push(0);
    write(out);
    let len = out.len() - mark - 1;
    if len < 0x80 {
        out[mark] = len as u8;
        return true;
    }
    let Ok(len) = u32::try_from(len) else {
        out.truncate(mark + 1);
        return false;
    };
    // A longer length: move the item up to make room; the move costs no
    // more than the encoding that produced the item.
    let mut prefix = [0u8; 5];
    let prefix = postcard::to_slice(&len, &mut prefix).expect("a u32 varint fits five bytes");
    out.splice(mark..=mark, prefix.iter().copied());
    true
}

/// Splits a buffer of length-prefixed items; stops at the first malformed one.
pub(crate) fn prefixed_items(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (len, rest) = match bytes.split_first() {
            Some((&len, rest)) if len < 0x80 => (usize::from(len), rest),
            _ => {
                let (len, rest) = postcard::take_from_bytes::<u32>(bytes).ok()?;
                (len as usize, rest)
            }
        };
        let item = rest.get(..len)?;
        bytes = &rest[len..];
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_items_of_every_length_split_back_as_they_were_pushed() {
        let items: Vec<Vec<u8>> = [0, 1, 127, 128, 129, 300, 16_383, 16_384, 70_000]
            .iter()
            .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
            .collect();
        let mut bytes = Vec::new();
        for item in &items {
            assert!(push_prefixed(&mut bytes, |out| out.extend_from_slice(item)));
        }
        let split: Vec<&[u8]> = prefixed_items(&bytes).collect();
        assert_eq!(split, items.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn prefixed_items_stop_at_a_truncated_item() {
        let mut bytes = Vec::new();
        push_prefixed(&mut bytes, |out| out.extend_from_slice(&[7; 200]));
        push_prefixed(&mut bytes, |out| out.extend_from_slice(&[8; 3]));
        bytes.truncate(bytes.len() - 1);
        assert_eq!(prefixed_items(&bytes).count(), 1);
        assert_eq!(prefixed_items(&[0x80]).count(), 0);
    }
}

//! Framing and codec for every byte that crosses between processes.
//!
//! A frame is a little-endian `u64` header followed by that many bytes of
//! postcard: the low 48 bits of the header are the length, the high 16 bits
//! the number of file descriptors that travel with the frame (SCM_RIGHTS, in
//! order). This module is the one seam between the runtime and the
//! transport: nothing else touches sockets, descriptors in flight or the codec.
//!
//! `handles` holds the tables through which handles export and import their
//! descriptors, `codec` the postcard entry points, `conn` the frames,
//! `mailbox` descriptors kept in flight for a queue, `spin` the waits.

mod codec;
mod conn;
mod handles;
mod mailbox;
pub(crate) mod socket;
mod spin;

pub(crate) use codec::*;
pub(crate) use conn::*;
pub(crate) use handles::*;
pub(crate) use mailbox::*;
pub(crate) use spin::*;

/// `value` encoded with its descriptors and decoded as a `U`, as another
/// process would receive it.
#[cfg(test)]
pub(crate) fn resend<T: serde::Serialize, U: serde::de::DeserializeOwned>(
    value: &T,
) -> Result<U, crate::error::Error> {
    let mut out = Vec::new();
    let (encoded, fds) = collect_returned_fds(|| encode_returned(value, &mut out));
    encoded.expect("encoding failed");
    with_fds(fds, || decode::<U>(&out, "a resent value"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use serde::Serialize;

    use super::handles::{OUTGOING, RETURNING};
    use super::*;
    use crate::error::Error;

    /// Panics while being encoded, as a user's `Serialize` may.
    struct Exploding;

    impl Serialize for Exploding {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("exploding on purpose")
        }
    }

    fn null_fd() -> crate::Fd {
        crate::Fd::from(std::fs::File::open("/dev/null").unwrap())
    }

    #[test]
    fn a_value_that_panics_while_encoded_leaves_the_next_ones_their_descriptors() {
        let ((), fds) = collect_returned_fds(|| {
            let mut out = Vec::new();
            encode_returned(&null_fd(), &mut out).unwrap();
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                encode_returned(&(null_fd(), Exploding), &mut Vec::new())
            }));
            assert!(panicked.is_err());
            encode_returned(&null_fd(), &mut out).unwrap();
            assert!(!OUTGOING.with(|o| o.borrow().is_some()), "left collecting");
            assert!(!RETURNING.get(), "left encoding a returned value");
        });
        // The first value's, the panicking one's (unused), the third's.
        assert_eq!(fds.len(), 3);
        let panicked =
            std::panic::catch_unwind(|| collect_fds(|| -> () { panic!("in a collection") }));
        assert!(panicked.is_err());
        assert!(beside_from(0).is_none(), "a collection outlived its panic");
    }

    // Nothing is shared beside a frame where nothing can be frozen (macOS).
    #[cfg(not(portable))]
    #[test]
    fn no_more_than_a_few_dozen_buffers_go_beside_one_frame() {
        use super::handles::MAX_BESIDE;
        let buffers: Vec<crate::Bytes> = (0..MAX_BESIDE + 5)
            .map(|_| crate::Bytes::from(vec![1u8; 1 << 20]))
            .collect();
        let (encoded, fds) = collect_fds(|| encode(&buffers, "buffers"));
        assert_eq!(fds.len(), MAX_BESIDE);
        let decoded: Vec<crate::Bytes> =
            with_fds(fds, || decode(&encoded.unwrap(), "buffers")).unwrap();
        assert_eq!(decoded, buffers);
    }

    fn pair() -> (Conn, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Conn::new(a), b)
    }

    #[test]
    fn messages_keep_their_boundaries_including_empty_ones() {
        let (mut a, b) = pair();
        let mut b = Conn::new(b);
        for msg in [vec![], vec![1u8, 2, 3], vec![]] {
            b.send(&msg).unwrap();
            assert_eq!(a.recv::<Vec<u8>>().unwrap(), msg);
        }
    }

    #[test]
    fn a_burst_of_frames_of_every_size_arrives_whole_and_in_order() {
        let (mut a, b) = pair();
        // Sizes that straddle the read buffer's edges as it grows, sent
        // before any is read so that reads return many frames at once.
        let sizes: Vec<usize> = (0..400)
            .map(|i| (i * 37) % 5000)
            .chain([70_000, 3, 0])
            .collect();
        let sent = sizes.clone();
        let writer = std::thread::spawn(move || {
            let mut b = Conn::new(b);
            for (i, n) in sent.into_iter().enumerate() {
                b.send(&vec![i as u8; n]).unwrap();
            }
        });
        for (i, n) in sizes.into_iter().enumerate() {
            assert_eq!(a.recv::<Vec<u8>>().unwrap(), vec![i as u8; n], "frame {i}");
        }
        writer.join().unwrap();
        assert!(matches!(a.recv::<u8>(), Err(Error::Disconnected)));
    }

    #[test]
    fn oversized_length_prefix_is_an_error_not_an_allocation() {
        let (mut a, mut b) = pair();
        b.write_all(&u64::MAX.to_le_bytes()).unwrap();
        let err = a.recv::<u8>().unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[test]
    fn bytes_left_over_after_a_value_are_a_codec_error() {
        let mut bytes = encode(&42u32, "a test value").unwrap();
        assert_eq!(decode::<u32>(&bytes, "a test value").unwrap(), 42);
        bytes.extend_from_slice(&[0; 100]);
        assert!(matches!(
            decode::<u32>(&bytes, "a test value"),
            Err(Error::Codec { .. })
        ));
    }

    #[test]
    fn undecodable_frame_is_a_codec_error() {
        let (mut a, mut b) = pair();
        b.write_all(&2u64.to_le_bytes()).unwrap();
        b.write_all(&[0xff, 0xff]).unwrap();
        let err = a.recv::<String>().unwrap_err();
        assert!(matches!(err, Error::Codec { .. }), "{err:?}");
    }

    #[test]
    fn peer_that_closes_mid_frame_or_between_frames_disconnects() {
        let (mut a, mut b) = pair();
        b.write_all(&10u64.to_le_bytes()).unwrap();
        b.write_all(&[1, 2]).unwrap();
        drop(b);
        assert!(matches!(a.recv::<Vec<u8>>(), Err(Error::Disconnected)));
        let (mut a, b) = pair();
        drop(b);
        assert!(matches!(a.recv::<u8>(), Err(Error::Disconnected)));
        assert!(matches!(a.send(&1u8), Err(Error::Disconnected)));
    }

    #[test]
    fn wait_readable_times_out_without_data() {
        let (a, _b) = pair();
        assert!(!a.wait_readable(Some(Duration::from_millis(10))).unwrap());
    }
}


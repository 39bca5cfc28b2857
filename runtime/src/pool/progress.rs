//! The progress bar of a pool's calls (`PoolBuilder::progress`): drawn on
//! stderr with indicatif under the `progress` feature, nothing without it.
//! The only place that knows whether the feature is on.

/// One call's bar; shown only if the pool was built with `progress(true)`.
#[derive(Debug, Default)]
pub(super) struct Bar {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    /// A bar of `len` steps, or a counter if the length is not known.
    #[cfg_attr(not(feature = "progress"), expect(unused_variables))]
    pub(super) fn new(shown: bool, len: Option<usize>) -> Bar {
        #[cfg(feature = "progress")]
        return Bar {
            bar: shown.then(|| match len {
                Some(len) => indicatif::ProgressBar::new(len as u64),
                None => indicatif::ProgressBar::no_length(),
            }),
        };
        #[cfg(not(feature = "progress"))]
        Bar {}
    }

    /// Whether the bar was drawn complete.
    #[cfg(all(test, feature = "progress"))]
    pub(super) fn is_finished(&self) -> bool {
        self.bar.as_ref().is_some_and(|bar| bar.is_finished())
    }

    /// Counts `steps` more calls done.
    #[cfg_attr(not(feature = "progress"), expect(unused_variables))]
    pub(super) fn advance(&self, steps: u32) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.inc(u64::from(steps));
        }
    }

    /// Draws the bar complete, and ends its line, so that what is printed
    /// next starts on a line of its own.
    pub(super) fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish();
            if !bar.is_hidden() {
                eprintln!();
            }
        }
    }
}

/// Sets up a pool's calls to draw a bar: what `PoolBuilder::progress`
/// accepts, with the `progress` feature.
#[diagnostic::on_unimplemented(
    message = "`progress` needs the `progress` feature of multiproc",
    label = "the `progress` feature is off",
    note = "turn it on in Cargo.toml: `multiproc = {{ version = \"...\", features = [\"progress\"] }}`"
)]
pub trait Shown {
    /// Whether to draw the bar.
    fn shown(self) -> bool;
}

#[cfg(feature = "progress")]
impl Shown for bool {
    fn shown(self) -> bool {
        self
    }
}

//! OpenMetrics 1.0 text (placeholder until the OpenMetrics parser lands).

use super::{Entry, ParseError};

/// Pull parser over an OpenMetrics body.
#[derive(Debug, Clone)]
pub struct OpenMetricsParser<'a> {
    body: &'a [u8],
}

impl<'a> OpenMetricsParser<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        OpenMetricsParser { body }
    }

    /// The 1-based number of the line the last entry came from.
    pub fn line(&self) -> usize {
        0
    }
}

impl<'a> Iterator for OpenMetricsParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let _ = self.body;
        None
    }
}

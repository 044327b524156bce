//! The one extraction path of the service and of `ds-extract`: the rules always run
//! (they are fast, and they alone decide what is not an expense); with an LLM configured
//! its checked answer is preferred — for every expense (`LLM_MODE=first`) or only when the
//! rules' confidence is below `LLM_BELOW_CONFIDENCE` (`LLM_MODE=fallback`, cheaper and
//! faster) — and any failure falls back to the rules with a warning.

use crate::{
    domain::{extract, ExtractContext, Extraction, Rejection},
    llm::{LlmConfig, LlmExtractor, LlmFailure},
};

/// Which extractor produced a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    Rules,
    Llm { model: String },
}

impl By {
    /// `"rules"` or `"llm:<model>"`, as in `ExtractExpenseResponse.extractor`.
    pub fn name(&self) -> String {
        match self {
            By::Rules => "rules".to_owned(),
            By::Llm { model } => format!("llm:{model}"),
        }
    }
}

/// An extraction and who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub extraction: Extraction,
    pub by: By,
}

/// Offline rules, optionally preceded by the LLM.
#[derive(Debug)]
pub struct Extractor {
    llm: Option<LlmExtractor>,
}

impl Extractor {
    /// The rules only.
    pub fn offline() -> Self {
        Self { llm: None }
    }

    /// The LLM when `config` is given, else the rules only.
    pub fn new(config: Option<LlmConfig>) -> Result<Self, platform::BoxError> {
        Ok(Self {
            llm: config.map(LlmExtractor::new).transpose()?,
        })
    }

    pub fn llm(&self) -> Option<&LlmExtractor> {
        self.llm.as_ref()
    }

    /// Reads an expense from `text`; `zone` is the IANA name the reference date is "today"
    /// in (the model is told).
    pub async fn extract(
        &self,
        text: &str,
        ctx: &ExtractContext,
        zone: &str,
    ) -> Result<Extracted, Rejection> {
        self.extract_with_hints(text, ctx, zone, &[]).await
    }

    /// [`Self::extract`], telling the model (when one is asked) the caller's most relevant
    /// rules, one line each.
    pub async fn extract_with_hints(
        &self,
        text: &str,
        ctx: &ExtractContext,
        zone: &str,
        hints: &[String],
    ) -> Result<Extracted, Rejection> {
        let offline = extract(text, ctx);
        // Credits, OTPs, empty or oversized texts: the rules' verdict is final, and asking
        // a model about them would only cost time and money.
        if let Err(r @ (Rejection::NotAnExpense(_) | Rejection::Empty | Rejection::TooLong)) = &offline {
            return Err(r.clone());
        }
        let Some(llm) = self.llm.as_ref().filter(|l| l.wanted(offline.as_ref().ok())) else {
            // No model, or `LLM_MODE=fallback` and the rules are sure enough.
            return offline.map(|extraction| Extracted {
                extraction,
                by: By::Rules,
            });
        };
        match llm.extract(text, ctx, zone, offline.as_ref().ok(), hints).await {
            Ok(extraction) => Ok(Extracted {
                extraction,
                by: By::Llm {
                    model: llm.model().to_owned(),
                },
            }),
            Err(why) => {
                platform::metrics::llm_fallback(match &why {
                    LlmFailure::Call(crate::llm::LlmError::CircuitOpen) => "circuit_open",
                    LlmFailure::Call(_) => "unavailable",
                    LlmFailure::Invalid(_) => "rejected",
                });
                match &why {
                    LlmFailure::Call(e) => tracing::info!(error = %e, "llm unavailable; the rules answer"),
                    LlmFailure::Invalid(reason) => {
                        tracing::info!("llm answer rejected; the rules answer");
                        tracing::debug!(%reason, "llm answer rejected");
                    }
                }
                let mut extraction = offline?;
                extraction.warnings.insert(0, format!("{why}; used the rules"));
                Ok(Extracted {
                    extraction,
                    by: By::Rules,
                })
            }
        }
    }
}

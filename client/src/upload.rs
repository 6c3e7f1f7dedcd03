//! File parts of the multipart operations (`uploadImage`, `createExpense`,
//! `updateExpense`), which progenitor cannot generate; `codegen` emits typed
//! methods for them that take these parts.

/// A file to upload as one part of a multipart body.
#[derive(Debug, Clone)]
pub struct FilePart {
    pub file_name: String,
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

impl FilePart {
    pub fn new(file_name: impl Into<String>, content_type: impl Into<String>, bytes: impl Into<bytes::Bytes>) -> Self {
        Self { file_name: file_name.into(), content_type: content_type.into(), bytes: bytes.into() }
    }

    // Only the generated multipart methods call this, and they are behind
    // their tags' features.
    #[allow(dead_code, reason = "unused when no tag with a multipart operation is enabled")]
    pub(crate) fn into_part(self) -> Result<reqwest::multipart::Part, crate::ClockifyError> {
        reqwest::multipart::Part::stream(reqwest::Body::from(self.bytes))
            .file_name(self.file_name)
            .mime_str(&self.content_type)
            .map_err(|e| crate::ClockifyError::InvalidRequest(format!("file part content type: {e}")))
    }
}

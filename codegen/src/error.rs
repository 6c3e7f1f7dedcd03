//! The one error type of the code generator. Every variant names the
//! contract item (operation, schema, file) that caused it, so a failed regen or
//! build points at the place to look instead of deep inside progenitor.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("the contract is not a valid OpenAPI 3.0 document: {0}")]
    NotOpenApi(String),
    #[error("operation `{operation}`: {problem}")]
    Operation { operation: String, problem: String },
    #[error("schema `{schema}`: {problem}")]
    Schema { schema: String, problem: String },
    #[error("patch `{patch}`: {problem}")]
    Patch { patch: &'static str, problem: String },
    #[error("progenitor failed on the contract: {0}")]
    Progenitor(String),
    #[error("generated Rust does not parse ({file}): {problem}")]
    Syntax { file: String, problem: String },
    #[error("{0}")]
    Other(String),
}

impl CodegenError {
    pub fn op(operation: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Operation { operation: operation.into(), problem: problem.into() }
    }
    pub fn schema(schema: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Schema { schema: schema.into(), problem: problem.into() }
    }
}

pub type Result<T, E = CodegenError> = std::result::Result<T, E>;

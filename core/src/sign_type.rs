//! The three signature types of the legacy mobile payment (docs/protocol.md §3).

use crate::error::{Error, Result};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignType {
    /// SHA1withRSA, PKCS#1 v1.5.
    Rsa,
    /// SHA256withRSA, PKCS#1 v1.5.
    Rsa2,
    /// Lowercase hex of MD5(pre-sign string + key).
    Md5,
}

impl SignType {
    pub fn parse(s: &str) -> Result<SignType> {
        match s {
            "RSA" => Ok(SignType::Rsa),
            "RSA2" => Ok(SignType::Rsa2),
            "MD5" => Ok(SignType::Md5),
            other => {
                let hint = match other.to_ascii_uppercase().as_str() {
                    "RSA" | "RSA2" | "MD5" => " (sign types are upper case)",
                    "SHA1WITHRSA" | "RSA1" => " (SHA1withRSA is called RSA)",
                    "SHA256WITHRSA" | "RSA256" => " (SHA256withRSA is called RSA2)",
                    _ => "",
                };
                Err(Error::sign_type(format!(
                    "unknown sign type {}: expected \"RSA\" (SHA1withRSA), \"RSA2\" (SHA256withRSA) or \"MD5\"{hint}",
                    short(other)
                )))
            }
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            SignType::Rsa => "RSA",
            SignType::Rsa2 => "RSA2",
            SignType::Md5 => "MD5",
        }
    }

    pub const fn is_rsa(self) -> bool {
        matches!(self, SignType::Rsa | SignType::Rsa2)
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 20 {
        format!("{:?}…", s.chars().take(20).collect::<String>())
    } else {
        format!("{s:?}")
    }
}

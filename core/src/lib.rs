//! The pure-Rust core of `alipayhk-pay`: the AlipayHK parameter rules, the pre-sign string,
//! keys, signing, and checking what Alipay sends back. It knows nothing of Node;
//! `src/lib.rs` in the package root binds it.

#![forbid(unsafe_code)]

pub mod error;
pub mod form;
pub mod gateway;
pub mod key_cache;
pub mod keys;
pub mod limits;
pub mod merchant;
pub mod notify;
pub mod order_str;
pub mod params;
pub mod reconcile;
pub mod rules;
pub mod sign;
pub mod sign_type;
pub mod verify;

pub use error::{Error, ErrorCode, Result};
pub use keys::{Backend, KeyInput, Md5Key, RsaPrivateKey, RsaPublicKey};
pub use params::{BuildOptions, OrderParams, ParamValue};
pub use sign::{HashAlg, RsaSignBackend, SignedOrder, Signer};
pub use sign_type::SignType;
pub use verify::{Failure, Reason, VerifyKey};

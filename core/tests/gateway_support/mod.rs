//! Helpers for the gateway tests: the test keys (core/tests/fixtures), signatures computed
//! here with the `rsa` and `md-5` crates directly (not through the core's `Signer` or its
//! verification), a reply writer of our own, and the fixtures of `gateway_fixtures/` (written
//! by `make.py` with the openssl command line and the simulator).
#![allow(dead_code)]

use alipayhk_pay_core::gateway::{Expected, ReplyError};
use alipayhk_pay_core::{
    ErrorCode, KeyInput, Md5Key, RsaPrivateKey, RsaPublicKey, SignType, Signer, VerifyKey,
};
use base64ct::{Base64, Encoding};
use md5::{Digest, Md5};
use rsa::pkcs8::DecodePrivateKey;
use std::sync::OnceLock;

pub const MERCHANT_PKCS8_PEM: &str = include_str!("../fixtures/test_rsa1024_pkcs8.pem");
pub const MERCHANT_PUB_PEM: &str = include_str!("../fixtures/test_rsa1024_pub.pem");
pub const ALIPAY_PKCS8_DER: &[u8] = include_bytes!("../fixtures/test_rsa2048.der");
pub const MERCHANT_PKCS8_DER: &[u8] = include_bytes!("../fixtures/test_rsa1024.der");
pub const ALIPAY_PUB_PEM: &str = include_str!("../fixtures/test_rsa2048_pub.pem");
pub const MD5_KEY_TEXT: &str = include_str!("../fixtures/test_md5_key.txt");
pub const PARTNER: &str = "2088101568358171";

pub fn md5_text() -> &'static str {
    MD5_KEY_TEXT.trim()
}

pub fn merchant_signer(t: SignType) -> Signer {
    match t {
        SignType::Md5 => Signer::md5(Md5Key::new(md5_text()).unwrap()),
        rsa => Signer::rsa(
            rsa,
            RsaPrivateKey::parse(KeyInput::Text(MERCHANT_PKCS8_PEM)).unwrap(),
        )
        .unwrap(),
    }
}

/// Alipay's public key (the 2048-bit test pair).
pub fn alipay_key() -> VerifyKey {
    VerifyKey::rsa(RsaPublicKey::parse(KeyInput::Text(ALIPAY_PUB_PEM)).unwrap())
}

/// The merchant's own public key: never right for checking Alipay's replies.
pub fn merchant_public_key() -> VerifyKey {
    VerifyKey::rsa(RsaPublicKey::parse(KeyInput::Text(MERCHANT_PUB_PEM)).unwrap())
}

pub fn md5_key() -> VerifyKey {
    VerifyKey::md5(Md5Key::new(md5_text()).unwrap())
}

/// Alipay's RSA key and the MD5 key.
pub fn both_keys() -> VerifyKey {
    alipay_key().with_md5(Md5Key::new(md5_text()).unwrap())
}

pub fn key_named(name: &str) -> VerifyKey {
    match name {
        "alipay" => alipay_key(),
        "md5" => md5_key(),
        other => panic!("no key {other}"),
    }
}

fn rsa_private(der: &[u8]) -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_der(der).expect("test key")
}

fn alipay_private() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa_private(ALIPAY_PKCS8_DER))
}

fn merchant_private() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa_private(MERCHANT_PKCS8_DER))
}

/// PKCS#1 v1.5 with the `rsa` crate directly (RSA: SHA-1, RSA2: SHA-256); MD5 with `md-5`.
pub fn sign_with(content: &str, t: SignType, merchant: bool) -> String {
    let key = if merchant {
        merchant_private()
    } else {
        alipay_private()
    };
    match t {
        SignType::Rsa => Base64::encode_string(
            &key.sign(
                rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
                &sha1::Sha1::digest(content.as_bytes()),
            )
            .unwrap(),
        ),
        SignType::Rsa2 => Base64::encode_string(
            &key.sign(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(content.as_bytes()),
            )
            .unwrap(),
        ),
        SignType::Md5 => {
            let mut h = Md5::new();
            h.update(content.as_bytes());
            h.update(md5_text().as_bytes());
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// "Alipay's" signature over `content`.
pub fn alipay_sign(content: &str, t: SignType) -> String {
    sign_with(content, t, false)
}

/// The test's own reading of the signed string (protocol §8.2): sorted by name in byte
/// order, empty values left out, `name=value` joined with `&`.
pub fn content_of(fields: &[(String, String)]) -> String {
    let mut v: Vec<&(String, String)> = fields.iter().filter(|(_, v)| !v.is_empty()).collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    v.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// How a reply is laid out: the text between elements and the indentation unit.
#[derive(Clone, Copy)]
pub struct Style {
    pub newline: &'static str,
    pub indent: &'static str,
}

pub const STYLES: [Style; 4] = [
    Style {
        newline: "",
        indent: "",
    },
    Style {
        newline: "\n",
        indent: "  ",
    },
    Style {
        newline: "\r\n",
        indent: "\t",
    },
    Style {
        newline: "\n \n",
        indent: "    ",
    },
];

/// A reply envelope of our own writing.
pub struct ReplySpec<'a> {
    pub is_success: &'a str,
    pub error: Option<&'a str>,
    pub element: Option<&'a str>,
    pub fields: Option<&'a [(String, String)]>,
    pub sign: Option<&'a str>,
    pub sign_type: Option<&'a str>,
    pub charset: &'a str,
    pub style: Style,
}

impl<'a> ReplySpec<'a> {
    pub fn signed(fields: &'a [(String, String)], sign: &'a str, sign_type: &'a str) -> Self {
        ReplySpec {
            is_success: "T",
            error: None,
            element: Some("trade"),
            fields: Some(fields),
            sign: Some(sign),
            sign_type: Some(sign_type),
            charset: "utf-8",
            style: STYLES[1],
        }
    }

    pub fn write(&self) -> String {
        let Style { newline, indent } = self.style;
        let mut lines = vec![
            format!("<?xml version=\"1.0\" encoding=\"{}\"?>", self.charset),
            "<alipay>".to_owned(),
        ];
        let ind = |d: usize| indent.repeat(d);
        lines.push(format!(
            "{}<is_success>{}</is_success>",
            ind(1),
            self.is_success
        ));
        if let Some(e) = self.error {
            lines.push(format!("{}<error>{}</error>", ind(1), esc(e)));
        }
        if let Some(fields) = self.fields {
            lines.push(format!("{}<response>", ind(1)));
            let depth = if let Some(el) = self.element {
                lines.push(format!("{}<{el}>", ind(2)));
                3
            } else {
                2
            };
            for (k, v) in fields {
                lines.push(format!("{}<{k}>{}</{k}>", ind(depth), esc(v)));
            }
            if let Some(el) = self.element {
                lines.push(format!("{}</{el}>", ind(2)));
            }
            lines.push(format!("{}</response>", ind(1)));
        }
        if let Some(s) = self.sign {
            lines.push(format!("{}<sign>{}</sign>", ind(1), esc(s)));
        }
        if let Some(t) = self.sign_type {
            lines.push(format!("{}<sign_type>{}</sign_type>", ind(1), esc(t)));
        }
        lines.push("</alipay>".to_owned());
        lines.join(newline)
    }
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A paid trade's fields, as protocol §8.3 lists them.
pub fn paid_trade(out_trade_no: &str) -> Vec<(String, String)> {
    pairs(&[
        ("buyer_email", "for***@alitest.com"),
        ("buyer_id", "2088102122524333"),
        ("discount", "0.00"),
        ("gmt_create", "2024-05-02 14:41:14"),
        ("gmt_payment", "2024-05-02 14:41:30"),
        ("out_trade_no", out_trade_no),
        ("payment_type", "100"),
        ("seller_id", PARTNER),
        ("subject", "商品名稱 & <測試>"),
        ("total_fee", "12.50"),
        ("trade_no", "2024050221001003140213828085"),
        ("trade_status", "TRADE_FINISHED"),
    ])
}

pub fn expect_order(out_trade_no: &str) -> Expected {
    Expected {
        out_trade_no: Some(out_trade_no.to_owned()),
        ..Expected::default()
    }
}

/// A reply error's code and reason.
pub fn code_of(e: &ReplyError) -> (ErrorCode, Option<&'static str>) {
    (e.error.code, e.reason.map(|r| r.as_str()))
}

// --- Fixtures ----------------------------------------------------------------------------

pub fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/gateway_fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn b64(s: &str) -> Vec<u8> {
    Base64::decode_vec(s).unwrap()
}

pub fn pair_list(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

//! The OpenSSL backend and the pure-Rust backend give the same verdict on every signature:
//! valid ones, damaged ones, and hand-made encodings that a lax verifier would accept
//! (missing NULL in the DigestInfo, short padding, trailing bytes, a signature not below n).
#![cfg(feature = "openssl")]

use alipayhk_pay_core::sign::{verify_pkcs1v15, HashAlg};
use alipayhk_pay_core::{Backend, KeyInput, RsaPublicKey};
use openssl::rsa::{Padding, Rsa};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sha2::Digest;

struct Pair {
    rsa: Rsa<openssl::pkey::Private>,
    ossl: RsaPublicKey,
    rust: RsaPublicKey,
}

fn pair(bits: u32) -> Pair {
    let rsa = Rsa::generate(bits).unwrap();
    let spki = openssl::pkey::PKey::from_rsa(rsa.clone())
        .unwrap()
        .public_key_to_der()
        .unwrap();
    let ossl = RsaPublicKey::parse_with(KeyInput::Bytes(&spki), Backend::OpenSsl).unwrap();
    let rust = RsaPublicKey::parse_with(KeyInput::Bytes(&spki), Backend::RustCrypto).unwrap();
    assert_eq!(ossl.backend(), Backend::OpenSsl);
    assert_eq!(rust.backend(), Backend::RustCrypto);
    Pair { rsa, ossl, rust }
}

/// Both backends' verdicts, which must agree; returns the common verdict.
fn verdict(p: &Pair, hash: HashAlg, message: &[u8], signature: &[u8]) -> bool {
    let a = verify_pkcs1v15(&p.ossl, hash, message, signature);
    let b = verify_pkcs1v15(&p.rust, hash, message, signature);
    assert_eq!(
        a,
        b,
        "backends disagree (openssl {a}, rustcrypto {b}) on a {}-byte signature",
        signature.len()
    );
    a
}

fn digest_info(hash: HashAlg, message: &[u8], with_null: bool) -> Vec<u8> {
    // DER prefixes of RFC 8017 section 9.2, note 1; without NULL the lengths shrink by 2.
    let (prefix, digest): (Vec<u8>, Vec<u8>) = match hash {
        HashAlg::Sha1 => (
            if with_null {
                hex("3021300906052b0e03021a05000414")
            } else {
                hex("301f300706052b0e03021a0414")
            },
            sha1::Sha1::digest(message).to_vec(),
        ),
        HashAlg::Sha256 => (
            if with_null {
                hex("3031300d060960864801650304020105000420")
            } else {
                hex("302f300b06096086480165030402010420")
            },
            sha2::Sha256::digest(message).to_vec(),
        ),
    };
    [prefix, digest].concat()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An encoded message `00 01 FF… 00 T` of the modulus length, with the padding and tail
/// given, raised to d (no padding added by OpenSSL): a signature whose only fault is the
/// encoding under it.
fn raw_signature(p: &Pair, block_type: u8, ff_len: usize, tail: &[u8]) -> Option<Vec<u8>> {
    let k = p.rsa.size() as usize;
    if 3 + ff_len + tail.len() > k {
        return None;
    }
    let mut em = vec![0u8, block_type];
    em.extend(std::iter::repeat_n(0xff, ff_len));
    em.push(0);
    em.extend_from_slice(tail);
    // Left-pad inside the padding string so the block stays k bytes.
    while em.len() < k {
        em.insert(2, 0xff);
    }
    let mut out = vec![0u8; k];
    let n = p.rsa.private_encrypt(&em, &mut out, Padding::NONE).ok()?;
    out.truncate(n);
    Some(out)
}

fn sign(p: &Pair, hash: HashAlg, message: &[u8]) -> Vec<u8> {
    let k = p.rsa.size() as usize;
    let t = digest_info(hash, message, true);
    raw_signature(p, 1, k - 3 - t.len(), &t).unwrap()
}

#[test]
fn valid_and_damaged_signatures_get_the_same_verdict_through_both_backends() {
    let pairs = [pair(1024), pair(1024), pair(2048), pair(2048)];
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    runner
        .run(
            &(
                0..pairs.len(),
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..300),
                any::<usize>(),
                any::<u8>(),
            ),
            |(i, sha256, message, pos, bit)| {
                let p = &pairs[i];
                let hash = if sha256 {
                    HashAlg::Sha256
                } else {
                    HashAlg::Sha1
                };
                let good = sign(p, hash, &message);
                prop_assert!(verdict(p, hash, &message, &good));
                // Any one bit of the signature flipped.
                let mut bad = good.clone();
                let at = pos % bad.len();
                bad[at] ^= 1 << (bit % 8);
                prop_assert!(!verdict(p, hash, &message, &bad));
                // The other hash, and any other message.
                let other = if sha256 {
                    HashAlg::Sha1
                } else {
                    HashAlg::Sha256
                };
                prop_assert!(!verdict(p, other, &message, &good));
                let mut changed = message.clone();
                changed.push(bit);
                prop_assert!(!verdict(p, hash, &changed, &good));
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn signatures_of_the_wrong_length_or_out_of_range_are_refused_by_both() {
    for bits in [1024, 2048] {
        let p = pair(bits);
        let msg = b"_input_charset=utf-8&out_trade_no=X&partner=2088101122136241";
        let good = sign(&p, HashAlg::Sha256, msg);
        assert!(verdict(&p, HashAlg::Sha256, msg, &good));
        let k = good.len();
        let mut longer = vec![0u8];
        longer.extend_from_slice(&good);
        assert!(!verdict(&p, HashAlg::Sha256, msg, &longer));
        assert!(!verdict(&p, HashAlg::Sha256, msg, &good[1..]));
        assert!(!verdict(&p, HashAlg::Sha256, msg, &[]));
        assert!(!verdict(&p, HashAlg::Sha256, msg, &vec![0u8; k]));
        assert!(!verdict(&p, HashAlg::Sha256, msg, &vec![0xffu8; k]));
        let mut one = vec![0u8; k];
        one[k - 1] = 1;
        assert!(!verdict(&p, HashAlg::Sha256, msg, &one));
        // n itself, and n - 1 (a value whose e-th power is not a valid block).
        let n = p.rsa.n().to_vec();
        assert!(!verdict(&p, HashAlg::Sha256, msg, &n));
        let mut n_minus_1 = n.clone();
        *n_minus_1.last_mut().unwrap() -= 1;
        assert!(!verdict(&p, HashAlg::Sha256, msg, &n_minus_1));
    }
}

#[test]
fn lax_encodings_are_refused_by_both() {
    for bits in [1024, 2048] {
        let p = pair(bits);
        let k = p.rsa.size() as usize;
        let msg = b"notify_id=1&out_trade_no=ORDER-1&trade_status=TRADE_SUCCESS";
        for hash in [HashAlg::Sha1, HashAlg::Sha256] {
            let t = digest_info(hash, msg, true);
            let full = k - 3 - t.len();
            // The correct encoding verifies through both: the construction is right.
            let good = raw_signature(&p, 1, full, &t).unwrap();
            assert!(verdict(&p, hash, msg, &good));
            // The DigestInfo without its NULL parameters.
            let t_no_null = digest_info(hash, msg, false);
            let s = raw_signature(&p, 1, k - 3 - t_no_null.len(), &t_no_null).unwrap();
            assert!(!verdict(&p, hash, msg, &s), "no NULL accepted");
            // Block type 2 (encryption padding) and 0.
            for bt in [0u8, 2] {
                let s = raw_signature(&p, bt, full, &t).unwrap();
                assert!(!verdict(&p, hash, msg, &s), "block type {bt} accepted");
            }
            // Garbage after the digest (the classic Bleichenbacher 2006 forgery shape).
            let mut tail = t.clone();
            tail.extend_from_slice(&[0xab; 8]);
            let s = raw_signature(&p, 1, full - 8, &tail).unwrap();
            assert!(!verdict(&p, hash, msg, &s), "trailing bytes accepted");
            // A bare digest, without the DigestInfo.
            let bare = &t[t.len() - if hash == HashAlg::Sha1 { 20 } else { 32 }..];
            let s = raw_signature(&p, 1, k - 3 - bare.len(), bare).unwrap();
            assert!(!verdict(&p, hash, msg, &s), "bare digest accepted");
            // A zero byte inside the padding string.
            let mut em_tail = vec![0u8];
            em_tail.extend(std::iter::repeat_n(0xff, 4));
            em_tail.push(0);
            em_tail.extend_from_slice(&t);
            let s = raw_signature(&p, 1, full - 6, &em_tail[1..]).unwrap();
            assert!(!verdict(&p, hash, msg, &s), "zero in padding accepted");
        }
    }
}

//! Measures the signing primitives against each other in one run (alternating, medians):
//! `cargo run --release -p alipayhk-pay-core --example sign_speed`.
use alipayhk_pay_core::{Backend, KeyInput, RsaPrivateKey, SignType, Signer};
use std::time::Instant;

fn main() {
    for bits in [1024u32, 2048] {
        let der = openssl::rsa::Rsa::generate(bits)
            .unwrap()
            .private_key_to_der()
            .unwrap();
        let t = if bits == 1024 {
            SignType::Rsa
        } else {
            SignType::Rsa2
        };
        let backends = [Backend::OpenSsl, Backend::RustCrypto];
        let signers: Vec<Signer> = backends
            .iter()
            .map(|b| {
                Signer::rsa(
                    t,
                    RsaPrivateKey::parse_with(KeyInput::Bytes(&der), *b).unwrap(),
                )
                .unwrap()
            })
            .collect();
        let msg = "x".repeat(600);
        let mut samples = vec![Vec::new(); signers.len()];
        for _round in 0..5 {
            for (i, s) in signers.iter().enumerate() {
                let n = if i == 0 { 400 } else { 60 };
                let start = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(s.sign_content(&msg).unwrap());
                }
                samples[i].push(start.elapsed().as_secs_f64() / n as f64 * 1e6);
            }
        }
        for (i, b) in backends.iter().enumerate() {
            samples[i].sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "{bits}-bit {t}: {:>10} {:8.1} µs/signature (median of 5)",
                b.name(),
                samples[i][2]
            );
        }
        // The legacy low-level path: DigestInfo by hand, RSA_private_encrypt with PKCS#1 padding.
        let rsa = openssl::rsa::Rsa::private_key_from_der(&der).unwrap();
        let prefix_sha1: &[u8] = &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ];
        let prefix_sha256: &[u8] = &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        let mut out = vec![0u8; rsa.size() as usize];
        let mut low = Vec::new();
        let mut evp = Vec::new();
        for _round in 0..5 {
            let start = Instant::now();
            for _ in 0..400 {
                let mut di = Vec::with_capacity(64);
                if bits == 1024 {
                    use sha1::Digest;
                    di.extend_from_slice(prefix_sha1);
                    di.extend_from_slice(&sha1::Sha1::digest(msg.as_bytes()));
                } else {
                    use sha2::Digest;
                    di.extend_from_slice(prefix_sha256);
                    di.extend_from_slice(&sha2::Sha256::digest(msg.as_bytes()));
                }
                rsa.private_encrypt(&di, &mut out, openssl::rsa::Padding::PKCS1)
                    .unwrap();
                std::hint::black_box(&out);
            }
            low.push(start.elapsed().as_secs_f64() / 400.0 * 1e6);
            let start = Instant::now();
            for _ in 0..400 {
                std::hint::black_box(signers[0].sign_content(&msg).unwrap());
            }
            evp.push(start.elapsed().as_secs_f64() / 400.0 * 1e6);
        }
        low.sort_by(|a, b| a.partial_cmp(b).unwrap());
        evp.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{bits}-bit: RSA_private_encrypt {:.1} µs vs EVP {:.1} µs (same rounds)",
            low[2], evp[2]
        );
        let start = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(
                RsaPrivateKey::parse_with(KeyInput::Bytes(&der), Backend::OpenSsl).unwrap(),
            );
        }
        println!(
            "{bits}-bit key parse (DER, OpenSSL, with the pairwise check): {:.1} µs",
            start.elapsed().as_secs_f64() / 200.0 * 1e6
        );
    }
}

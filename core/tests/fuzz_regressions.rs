//! The fuzz targets' properties (core/fuzz, see its README.md), replayed under plain
//! `cargo test` on every input kept in `tests/fuzz_regressions/<target>/` (each one a
//! finding, fixed) and on the committed seed corpus `fuzz/seeds/<target>/`.
//!
//! The checks are the fuzz crate's own `src/lib.rs`, included as a module, so an input
//! replays exactly what the target ran on it.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_checks;

use alipayhk_pay_core::order_str::{diagnose_order_str, parse_order_str, verify_trade_pay_result};
use alipayhk_pay_core::{notify::verify_notify_body, KeyInput, RsaPrivateKey, RsaPublicKey};
use fuzz_checks::test_keys;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `check` on every kept input and seed of `target`; reports every file that fails.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut inputs = files(&root().join("tests/fuzz_regressions").join(target));
    inputs.extend(files(&root().join("fuzz/seeds").join(target)));
    let mut failed = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs {failed:#?}");
    inputs.len()
}

#[test]
fn order_str_inputs() {
    assert!(replay("order_str", fuzz_checks::order_str) > 0);
}

#[test]
fn notify_inputs() {
    assert!(replay("notify", fuzz_checks::notify) > 0);
}

#[test]
fn keys_inputs() {
    assert!(replay("keys", fuzz_checks::keys) > 0);
}

#[test]
fn build_params_inputs() {
    assert!(replay("build_params", fuzz_checks::build_params) > 0);
}

// --- The findings, spelled out -----------------------------------------------------------------

/// keys, finding 1: the 1024-bit test key (PKCS#8 DER) with two bytes of the prime p swapped,
/// so that n ≠ p·q. The pure-Rust backend refused it; the OpenSSL backend accepted it, since
/// its pairwise sign/verify test passes (OpenSSL recomputes a failed CRT signature from d
/// and n). Both refuse it now.
#[test]
fn a_private_key_with_a_damaged_prime_is_refused_by_both_backends() {
    use alipayhk_pay_core::{Backend, ErrorCode};
    let der =
        std::fs::read(root().join("tests/fuzz_regressions/keys/der_pkcs8_rsa1024_p_bytes_swapped"))
            .unwrap();
    let backends = [
        Backend::RustCrypto,
        #[cfg(feature = "openssl")]
        Backend::OpenSsl,
    ];
    for backend in backends {
        let err = RsaPrivateKey::parse_with(KeyInput::Bytes(&der), backend).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidKey, "{backend:?}");
        assert!(err.message.contains("malformed"), "{backend:?}: {err}");
    }
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(root().join("fuzz/seeds").join(target).join(name)).unwrap()
}

fn seed_text(target: &str, name: &str) -> String {
    String::from_utf8(seed(target, name)).unwrap()
}

/// The signed seeds really are signed: the fuzzer starts from inputs that verify, so the
/// "a changed input does not verify" properties are exercised.
#[test]
fn the_signed_seeds_verify() {
    let k = test_keys();
    for name in ["signed_rsa", "signed_rsa2", "trade_information_rsa2"] {
        let text = seed_text("order_str", name);
        assert_eq!(diagnose_order_str(&text, Some(&k.rsa)), vec![], "{name}");
    }
    assert_eq!(
        diagnose_order_str(&seed_text("order_str", "signed_md5"), Some(&k.md5)),
        vec![]
    );
    for name in ["trade_pay_result_rsa", "trade_pay_result_bare_rsa2"] {
        let v = verify_trade_pay_result(&seed_text("order_str", name), &k.rsa);
        assert!(v.success, "{name}: {v:?}");
    }
    for (name, key) in [
        ("rsa", &k.rsa),
        ("rsa2", &k.rsa),
        ("md5", &k.md5),
        ("rsa_sign_plus_unencoded", &k.rsa),
    ] {
        let v = verify_notify_body(&seed("notify", name), key);
        assert!(v.ok(), "{name}: {v:?}");
    }
    // The parameter-list seeds build (all but the one with a lone surrogate).
    for path in files(&root().join("fuzz/seeds/build_params")) {
        let (flags, list) = fuzz_checks::decode_param_list(&std::fs::read(&path).unwrap()).unwrap();
        let options = alipayhk_pay_core::BuildOptions {
            sort_keys: flags & 1 != 0,
            strict: flags & 2 != 0,
        };
        let built = alipayhk_pay_core::OrderParams::new(list, &options);
        assert_eq!(
            built.is_ok(),
            !path.ends_with("lone_surrogate"),
            "{}: {built:?}",
            path.display()
        );
    }
    // The seed's own sample is taken apart, with its mistakes found.
    let sample = seed_text("order_str", "seed_sample");
    assert!(parse_order_str(&sample).is_ok());
    assert!(diagnose_order_str(&sample, None).len() >= 4);
}

// --- Regenerating the seed corpus -------------------------------------------------------------

const RSA1024_PKCS8_PEM: &str = include_str!("fixtures/test_rsa1024_pkcs8.pem");
const MSG_SAMPLE_EN: &str = include_str!("fixtures/msg_sample_en.txt");
const MSG_SAMPLE_HANT: &str = include_str!("fixtures/msg_sample_hant.txt");

/// The seed's sample orderStr (docs/protocol.md §7), as the seed sent it.
const SEED_SAMPLE: &str = "method=\"mobile.securitypay.pay\"&partner=\"2088101568358171\"&seller_id=\"2088101568358171\"&out_trade_no=\"ALIPAYTEST2016081622560194853\"&subject=\"商品名稱\"&body=\"商品描述信息\"&total_fee=\"0.1\"&notify_url=\"http://www.xxx.com\"&payment_type=\"1\"&_input_charset=\"utf-8\"&it_b_pay=\"30m\"&return_url=\"m.alipay.com\"&payment_inst=\"ALIPAYHK\"&currency=\"HKD\"&product_code=\"NEW_WAP_OVERSEAS_SELLER\"&forex_biz=\"FP\"&payment_type=\"1\"&sign=\"aueDw0PaUqVMvbiButPCmWy8VsNJIgNKRV4tDEz3mSgIpa5ODnZKVCd1GGCtu7hNzxnwLOiku+TRJUVM24aHkKWrdyBHECjkUBvrziWiZBESLCyJPwT1YHGnioRUhLvL1MqTTm85urPeqAUUir4UyxyWowHitjkxh3ru6nSLkLU\"=&sign_type=\"MD5\"";

const NOTIFY_FIELDS: &[(&str, &str)] = &[
    ("notify_type", "trade_status_sync"),
    ("notify_id", "91722adff935e8cfa58b3aabf4dead6ibe"),
    ("notify_time", "2024-05-01 12:00:00"),
    ("trade_no", "2024050122001400000000000001"),
    ("out_trade_no", "ORDER-1"),
    ("subject", "商品名稱 a+b=c&d 100%"),
    ("body", ""),
    ("total_fee", "0.10"),
    ("currency", "HKD"),
    ("trade_status", "TRADE_FINISHED"),
    ("buyer_id", "2088102000000000"),
    ("seller_id", "2088101568358171"),
];

fn sample_params(text: &str) -> Vec<(String, String)> {
    parse_order_str(text.trim()).unwrap().params
}

/// The committed seed corpus in `fuzz/seeds/` is exactly what this writer makes (signatures
/// are deterministic). Regenerate it with
/// `ALIPAYHK_WRITE_FUZZ_SEEDS=1 cargo test -p alipayhk-pay-core --test core fuzz_regressions::the_committed_seed_corpus`.
#[test]
fn the_committed_seed_corpus_is_what_the_seed_writer_makes() {
    let write = std::env::var("ALIPAYHK_WRITE_FUZZ_SEEDS").as_deref() == Ok("1");
    use alipayhk_pay_core::notify::notify_sign_content;
    use alipayhk_pay_core::{BuildOptions, OrderParams, ParamValue, Signer};
    let k = test_keys();
    let put = |target: &str, name: &str, data: &[u8]| {
        let dir = root().join("fuzz/seeds").join(target);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), data).unwrap();
        } else {
            let committed = std::fs::read(dir.join(name)).unwrap_or_default();
            assert!(
                committed == data,
                "fuzz/seeds/{target}/{name} is not what the seed writer makes; regenerate with ALIPAYHK_WRITE_FUZZ_SEEDS=1"
            );
        }
    };
    let build = |params: &[(String, String)]| {
        let list = params
            .iter()
            .map(|(n, v)| (n.clone(), ParamValue::Text(v.clone())));
        OrderParams::new(list, &BuildOptions::default()).unwrap()
    };
    let sign =
        |signer: &Signer, params: &[(String, String)]| signer.sign_order(&build(params)).unwrap();

    // orderStr and tradePay results.
    let en = sample_params(MSG_SAMPLE_EN);
    let hant = sample_params(MSG_SAMPLE_HANT);
    put("order_str", "seed_sample", SEED_SAMPLE.as_bytes());
    put(
        "order_str",
        "signed_rsa",
        sign(&k.rsa_signer, &en).order_str.as_bytes(),
    );
    put(
        "order_str",
        "signed_rsa2",
        sign(&k.rsa2_signer, &hant).order_str.as_bytes(),
    );
    put(
        "order_str",
        "signed_md5",
        sign(&k.md5_signer, &hant).order_str.as_bytes(),
    );
    let mut with_json = en.clone();
    with_json.push((
        "trade_information".into(),
        r#"{"business_type":"4","goods_info":"bag^2|shoes^1","total_quantity":"3"}"#.into(),
    ));
    put(
        "order_str",
        "trade_information_rsa2",
        sign(&k.rsa2_signer, &with_json).order_str.as_bytes(),
    );
    let trade_pay = |signer: &Signer, wrap: bool| {
        let pre_sign = format!("{}&success=\"true\"", build(&en).pre_sign());
        let sig = signer.sign_content(&pre_sign).unwrap();
        let result = format!(
            "{pre_sign}&sign_type=\"{}\"&sign=\"{sig}\"",
            signer.sign_type()
        );
        if wrap {
            format!("resultStatus={{9000}};memo={{}};result={{{result}}}")
        } else {
            result
        }
    };
    put(
        "order_str",
        "trade_pay_result_rsa",
        trade_pay(&k.rsa_signer, true).as_bytes(),
    );
    put(
        "order_str",
        "trade_pay_result_bare_rsa2",
        trade_pay(&k.rsa2_signer, false).as_bytes(),
    );

    // Notification bodies.
    let fields: Vec<(String, String)> = NOTIFY_FIELDS
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let notification = |signer: &Signer, encode_sign: bool| {
        let sig = signer.sign_content(&notify_sign_content(&fields)).unwrap();
        let sig = if encode_sign {
            fuzz_checks::form_encode(&sig)
        } else {
            sig
        };
        format!(
            "{}&sign={sig}&sign_type={}",
            fuzz_checks::form_body(&fields),
            signer.sign_type()
        )
    };
    put(
        "notify",
        "rsa",
        notification(&k.rsa_signer, true).as_bytes(),
    );
    put(
        "notify",
        "rsa2",
        notification(&k.rsa2_signer, true).as_bytes(),
    );
    put(
        "notify",
        "md5",
        notification(&k.md5_signer, true).as_bytes(),
    );
    put(
        "notify",
        "rsa_sign_plus_unencoded",
        notification(&k.rsa_signer, false).as_bytes(),
    );

    // Keys: every fixture file.
    let fixtures = root().join("tests/fixtures");
    for path in files(&fixtures) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("test_") {
            put("keys", &name, &std::fs::read(&path).unwrap());
        }
    }
    // Sanity: the keys used above round-trip.
    assert!(RsaPrivateKey::parse(KeyInput::Text(RSA1024_PKCS8_PEM)).is_ok());
    assert!(RsaPublicKey::parse(KeyInput::Text(fuzz_checks::RSA1024_PUB_PEM)).is_ok());

    // Parameter lists: the sample in every mode, plus aliases, numbers and odd values.
    let list = |params: &[(String, String)]| -> Vec<(u8, String, String)> {
        params
            .iter()
            .map(|(n, v)| (b'T', n.clone(), v.clone()))
            .collect()
    };
    let encode = |flags: u8, l: &[(u8, String, String)]| {
        let refs: Vec<(u8, &str, &str)> = l
            .iter()
            .map(|(t, n, v)| (*t, n.as_str(), v.as_str()))
            .collect();
        fuzz_checks::encode_param_list(flags, &refs)
    };
    for flags in 0u8..12 {
        put(
            "build_params",
            &format!("sample_flags{flags:02}"),
            &encode(flags, &list(&en)),
        );
    }
    let mut odd = list(&with_json);
    odd.retain(|(_, n, _)| n != "service" && n != "total_fee");
    odd.push((b'T', "method".into(), "mobile.securitypay.pay".into()));
    odd.push((b'N', "total_fee".into(), "12.5".into()));
    odd.push((b'A', "show_url".into(), String::new()));
    odd.push((b'T', "sign_type".into(), "RSA2".into()));
    put(
        "build_params",
        "alias_number_json_strict_rsa2",
        &encode(0b1010, &odd),
    );
    let loose = vec![
        (b'T', "a".to_owned(), "x&y=z 商品 '\u{2028}".to_owned()),
        (b'T', "trade_information".to_owned(), "\"\"".to_owned()),
        (b'T', "_".to_owned(), "=\"".replace('"', "'")),
        (b'S', "lone".to_owned(), String::new()),
    ];
    put("build_params", "loose", &encode(0b0100, &loose[..3]));
    put("build_params", "lone_surrogate", &encode(0b0100, &loose));
}

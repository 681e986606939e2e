//! Gateway replies (protocol §8.2–§8.6): fixtures signed by the openssl command line and by
//! the simulator (gateway_fixtures/replies.json, see make.py) verify to the expected outcome;
//! replies signed here with the `rsa` / `md-5` crates directly verify; any change to a signed
//! field, an added or removed field, or the merchant's own key fails with a reason; layout
//! does not matter; GBK decodes; masked values stay masked.

use crate::gateway_support;

use alipayhk_pay_core::gateway::{
    parse_gateway_reply, parse_refund_query_reply, parse_refund_reply, parse_reply,
    parse_trade_query_reply, reply_sign_content, Expected, GatewayOutcome, RefundOutcome,
    RefundQueryOutcome, RefundStatus, Service, TradeQueryOutcome, TradeStatus,
};
use alipayhk_pay_core::{ErrorCode, SignType, VerifyKey};
use gateway_support::*;

const SIGN_TYPES: [SignType; 3] = [SignType::Rsa, SignType::Rsa2, SignType::Md5];

fn key_for(t: SignType) -> VerifyKey {
    if t == SignType::Md5 {
        md5_key()
    } else {
        alipay_key()
    }
}

fn trade_of(o: &TradeQueryOutcome) -> &alipayhk_pay_core::gateway::Trade {
    match o {
        TradeQueryOutcome::Trade(t) => t.value(),
        other => panic!("not a trade: {other:?}"),
    }
}

#[test]
fn fixtures_signed_by_openssl_and_the_simulator_verify() {
    let all = fixture("replies.json");
    let all = all.as_array().unwrap();
    let (mut openssl, mut simulator) = (0, 0);
    for r in all {
        let name = r["name"].as_str().unwrap();
        let body = b64(r["body_base64"].as_str().unwrap());
        let service = Service::parse(r["service"].as_str().unwrap()).unwrap();
        let key = key_named(r["key"].as_str().unwrap());
        let expect = &r["expect"];
        let expected = Expected {
            out_trade_no: expect["out_trade_no"].as_str().map(str::to_owned),
            trade_no: expect["trade_no"].as_str().map(str::to_owned),
            out_return_no: expect["out_return_no"].as_str().map(str::to_owned),
        };
        match r["source"].as_str().unwrap() {
            "openssl" => openssl += 1,
            _ => simulator += 1,
        }
        let outcome = parse_gateway_reply(service, &body, Some(&key), &expected);
        if let Some(code) = expect["error"].as_str().filter(|c| c.starts_with("ERR_")) {
            let e = outcome.expect_err(name);
            assert_eq!(e.error.code.as_str(), code, "{name}");
            assert_eq!(
                e.reason.map(|r| r.as_str()),
                expect["reason"].as_str(),
                "{name}"
            );
            continue;
        }
        let outcome = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
        // With both keys, the reply's sign_type picks the key.
        assert_eq!(
            parse_gateway_reply(service, &body, Some(&both_keys()), &expected).unwrap(),
            outcome,
            "{name}"
        );
        match (&outcome, expect) {
            (GatewayOutcome::TradeQuery(t), e) if e["status"].is_string() => {
                assert_eq!(t.status(), e["status"].as_str(), "{name}");
                let trade = trade_of(t);
                if let Some(fields) = r["fields"].as_array() {
                    // The verified fields are exactly those written, in document order, and the
                    // signed string is the one openssl signed.
                    assert_eq!(trade.fields, pair_list(&r["fields"]), "{name}");
                    assert_eq!(
                        reply_sign_content(&trade.fields),
                        r["content"].as_str().unwrap(),
                        "{name}"
                    );
                    assert!(!fields.is_empty());
                }
            }
            (GatewayOutcome::TradeQuery(TradeQueryOutcome::NotFound), e) => {
                assert_eq!(e["error"], "TRADE_NOT_EXIST", "{name}")
            }
            (GatewayOutcome::TradeQuery(TradeQueryOutcome::GatewayError(g)), e)
            | (GatewayOutcome::Refund(RefundOutcome::Refused(g)), e) => {
                assert_eq!(g.code, e["error"].as_str().unwrap(), "{name}");
                assert!(!g.explanation.is_empty());
            }
            (GatewayOutcome::Refund(RefundOutcome::Accepted { response }), e) => {
                assert_eq!(e["accepted"], true, "{name}");
                assert!(response.is_none());
            }
            (GatewayOutcome::RefundQuery(q), e) => {
                assert_eq!(q.status(), e["status"].as_str(), "{name}");
                let RefundQueryOutcome::Refund(rec) = q else {
                    panic!("{name}: {q:?}")
                };
                assert_eq!(rec.out_return_no.as_deref(), e["out_return_no"].as_str());
                if let Some(_fields) = r["fields"].as_array() {
                    assert_eq!(rec.fields, pair_list(&r["fields"]), "{name}");
                }
            }
            (o, e) => panic!("{name}: unexpected {o:?} for {e}"),
        }
    }
    assert_eq!((openssl, simulator), (38, 11));
}

#[test]
fn gbk_replies_decode_and_masked_values_stay_masked() {
    let all = fixture("replies.json");
    let mut gbk = 0;
    for r in all.as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        let body = b64(r["body_base64"].as_str().unwrap());
        let reply = parse_reply(&body).unwrap();
        if name.ends_with("gbk") {
            gbk += 1;
            assert_eq!(reply.encoding, "GBK", "{name}");
            let subject = reply.field("subject").unwrap();
            assert!(
                std::str::from_utf8(&body).is_err(),
                "{name}: the body is GBK bytes"
            );
            assert!(
                ["商品名稱", "测试商品", "商品 & <測試>", "商品名稱 & <測試>"].contains(&subject),
                "{name}: {subject}"
            );
        }
        if let Some(email) = reply.field("buyer_email") {
            assert!(email.contains("***"), "{name}: {email}");
        }
    }
    assert_eq!(gbk, 5);
    // Our own: a GBK body whose signature covers the UTF-8 bytes of the decoded text.
    let fields = paid_trade("GBK-1");
    let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
    let mut spec = ReplySpec::signed(&fields, &sign, "RSA2");
    spec.charset = "GBK";
    let text = spec.write();
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let o = parse_trade_query_reply(&bytes, &alipay_key(), &expect_order("GBK-1")).unwrap();
    let trade = trade_of(&o);
    assert_eq!(trade.subject.as_deref(), Some("商品名稱 & <測試>"));
    assert_eq!(trade.buyer_email.as_deref(), Some("for***@alitest.com"));
    assert_eq!(trade.status, TradeStatus::Paid);
    // The same bytes declared UTF-8 are not valid UTF-8: an error, not a mojibake trade.
    let mut relabelled = bytes.to_vec();
    let at = relabelled.windows(3).position(|w| w == b"GBK").unwrap();
    relabelled.splice(at..at + 3, b"utf-8".iter().copied());
    let e = parse_trade_query_reply(&relabelled, &alipay_key(), &Expected::default()).unwrap_err();
    assert_eq!(e.error.code, ErrorCode::MalformedReply);
}

/// Fields of a random trade: §8.3's names and random text (markup characters, `&`, `=`,
/// Chinese, emoji, spaces at either end).
fn random_fields(rng: &mut u64, out_trade_no: &str) -> Vec<(String, String)> {
    const PIECES: &[&str] = &[
        "a", "Z", "0", " ", "&", "=", "<", ">", "'", "\"", "%", "+", "/", "商品", "😀", "é", "\t",
        "]]>", "&amp;", "***",
    ];
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let mut fields = paid_trade(out_trade_no);
    let n = (next() % 5) as usize;
    for i in 0..n {
        let len = next() % 12;
        let value: String = (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        fields.push((format!("extra_{i}_{}", next() % 1000), value));
    }
    let status = [
        "TRADE_SUCCESS",
        "TRADE_FINISHED",
        "WAIT_BUYER_PAY",
        "TRADE_CLOSED",
    ][(next() % 4) as usize];
    fields
        .iter_mut()
        .find(|(k, _)| k == "trade_status")
        .unwrap()
        .1 = status.to_owned();
    // Shuffle: the document order is not the signed order.
    for i in (1..fields.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        fields.swap(i, j);
    }
    fields
}

fn status_of(fields: &[(String, String)]) -> TradeStatus {
    let s = &fields.iter().find(|(k, _)| k == "trade_status").unwrap().1;
    TradeStatus::from_trade_status(s).unwrap()
}

#[test]
fn random_replies_signed_here_verify_in_every_layout() {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..60 {
        let t = SIGN_TYPES[i % 3];
        let id = format!("ORDER-{i}");
        let fields = random_fields(&mut rng, &id);
        let sign = alipay_sign(&content_of(&fields), t);
        for style in STYLES {
            let mut spec = ReplySpec::signed(&fields, &sign, t.as_str());
            spec.style = style;
            let text = spec.write();
            let o = parse_trade_query_reply(text.as_bytes(), &key_for(t), &expect_order(&id))
                .unwrap_or_else(|e| panic!("{i} {t}: {e}\n{text}"));
            let TradeQueryOutcome::Trade(signed) = &o else {
                panic!("{o:?}")
            };
            assert_eq!(signed.sign_type(), t);
            assert_eq!(signed.fields, fields, "values are kept exactly");
            assert_eq!(signed.status, status_of(&fields));
            assert_eq!(
                o.status(),
                Some(status_of(&fields).as_str()),
                "the status string"
            );
        }
    }
}

/// Every way of changing what was signed fails, with a reason, and never yields a trade.
#[test]
fn any_change_to_the_signed_fields_fails() {
    let mut rng = 0x0123_4567_89AB_CDEFu64;
    for (i, t) in SIGN_TYPES.iter().copied().enumerate() {
        let id = format!("ORDER-{i}");
        let fields = random_fields(&mut rng, &id);
        let sign = alipay_sign(&content_of(&fields), t);
        let key = key_for(t);
        let check = |changed: &[(String, String)], what: &str| {
            let text = ReplySpec::signed(changed, &sign, t.as_str()).write();
            let e = parse_trade_query_reply(text.as_bytes(), &key, &Expected::default())
                .expect_err(what);
            assert_eq!(
                code_of(&e),
                (ErrorCode::ReplySignature, Some("BAD_SIGNATURE")),
                "{t} {what}: {e}"
            );
            assert_eq!(e.error.field.as_deref(), Some("sign"));
        };
        // One byte of any value: every position of every field (ASCII positions changed to
        // another ASCII byte; a multi-byte character to another character).
        for (fi, (name, value)) in fields.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            for (ci, c) in value.char_indices() {
                let mut changed = fields.clone();
                let replacement = if c == 'x' { 'y' } else { 'x' };
                let mut v = value.clone();
                v.replace_range(ci..ci + c.len_utf8(), &replacement.to_string());
                changed[fi].1 = v;
                check(&changed, &format!("{name}[{ci}] changed"));
            }
            // One byte of the name.
            let mut changed = fields.clone();
            changed[fi].0 = format!("{}x", &name[..name.len() - 1]);
            check(&changed, &format!("{name} renamed"));
            // Removed.
            let mut removed = fields.clone();
            removed.remove(fi);
            check(&removed, &format!("{name} removed"));
        }
        // Added, anywhere.
        for at in [0, fields.len() / 2, fields.len()] {
            let mut added = fields.clone();
            added.insert(at, ("refund_fee".into(), "12.50".into()));
            check(&added, &format!("a field added at {at}"));
        }
        // Two values swapped between fields.
        let mut swapped = fields.clone();
        let (a, b) = (
            swapped.iter().position(|(k, _)| k == "total_fee").unwrap(),
            swapped.iter().position(|(k, _)| k == "discount").unwrap(),
        );
        let (va, vb) = (swapped[a].1.clone(), swapped[b].1.clone());
        swapped[a].1 = vb;
        swapped[b].1 = va;
        check(&swapped, "values swapped");
        // A value moved across the `=`/`&` boundary.
        let mut shifted = fields.clone();
        let k = shifted
            .iter()
            .position(|(k, _)| k == "quantity")
            .unwrap_or(0);
        shifted[k].1.push_str("&z=1");
        check(&shifted, "a value carrying &name=value");
    }
}

#[test]
fn wrong_keys_sign_types_and_missing_signatures_fail_with_a_reason() {
    let fields = paid_trade("ORDER-1");
    let content = content_of(&fields);
    let expect = expect_order("ORDER-1");
    let fail = |text: String, key: &VerifyKey| {
        parse_trade_query_reply(text.as_bytes(), key, &expect).unwrap_err()
    };
    for t in [SignType::Rsa, SignType::Rsa2] {
        // Signed with the merchant's own key: Alipay's key refuses it; and the merchant's own
        // public key refuses Alipay's signature.
        let own = sign_with(&content, t, true);
        let e = fail(
            ReplySpec::signed(&fields, &own, t.as_str()).write(),
            &alipay_key(),
        );
        assert_eq!(
            code_of(&e),
            (ErrorCode::ReplySignature, Some("BAD_SIGNATURE"))
        );
        assert!(
            e.error.message.contains("not Alipay's"),
            "{}",
            e.error.message
        );
        let genuine = alipay_sign(&content, t);
        let e = fail(
            ReplySpec::signed(&fields, &genuine, t.as_str()).write(),
            &merchant_public_key(),
        );
        assert_eq!(
            code_of(&e),
            (ErrorCode::ReplySignature, Some("BAD_SIGNATURE"))
        );
        // The other RSA type's label over the same signature.
        let other = if t == SignType::Rsa { "RSA2" } else { "RSA" };
        let e = fail(
            ReplySpec::signed(&fields, &genuine, other).write(),
            &alipay_key(),
        );
        assert_eq!(
            code_of(&e),
            (ErrorCode::ReplySignature, Some("BAD_SIGNATURE"))
        );
        // An RSA reply checked with the MD5 key alone.
        let e = fail(
            ReplySpec::signed(&fields, &genuine, t.as_str()).write(),
            &md5_key(),
        );
        assert_eq!(
            code_of(&e),
            (ErrorCode::ReplySignature, Some("UNSUPPORTED_SIGN_TYPE"))
        );
    }
    let md5 = alipay_sign(&content, SignType::Md5);
    let e = fail(
        ReplySpec::signed(&fields, &md5, "MD5").write(),
        &alipay_key(),
    );
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("UNSUPPORTED_SIGN_TYPE"))
    );
    // No sign, an empty sign, no sign_type, an unknown sign_type.
    let mut spec = ReplySpec::signed(&fields, &md5, "MD5");
    spec.sign = None;
    let e = fail(spec.write(), &md5_key());
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("MISSING_SIGN"))
    );
    spec.sign = Some("");
    let e = fail(spec.write(), &md5_key());
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("MISSING_SIGN"))
    );
    let mut spec = ReplySpec::signed(&fields, &md5, "MD5");
    spec.sign_type = None;
    let e = fail(spec.write(), &md5_key());
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("UNSUPPORTED_SIGN_TYPE"))
    );
    spec.sign_type = Some("SHA256");
    let e = fail(spec.write(), &md5_key());
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("UNSUPPORTED_SIGN_TYPE"))
    );
    // Garbage in sign.
    for junk in ["!!!!", "AAAA", "====", "not base64 at all"] {
        let e = fail(
            ReplySpec::signed(&fields, junk, "RSA2").write(),
            &alipay_key(),
        );
        assert_eq!(
            code_of(&e),
            (ErrorCode::ReplySignature, Some("BAD_SIGNATURE"))
        );
    }
    // MD5 hex in upper case is the same signature (hex case is not significant).
    let o = parse_trade_query_reply(
        ReplySpec::signed(&fields, &md5.to_uppercase(), "MD5")
            .write()
            .as_bytes(),
        &md5_key(),
        &expect,
    )
    .unwrap();
    assert_eq!(o.status(), Some("PAID"));
}

/// A single-byte change anywhere in the body either fails, or leaves the verified fields
/// exactly as they were (a change to whitespace, the request echo, a comment …): never a
/// different trade.
#[test]
fn every_single_byte_change_of_a_whole_reply() {
    let fields = paid_trade("ORDER-1");
    for t in [SignType::Rsa2, SignType::Md5] {
        let sign = alipay_sign(&content_of(&fields), t);
        let mut text = ReplySpec::signed(&fields, &sign, t.as_str()).write();
        text = text.replace(
            "<response>",
            "<request><param name=\"out_trade_no\">ORDER-1</param></request>\n  <response>",
        );
        let key = key_for(t);
        let original =
            parse_trade_query_reply(text.as_bytes(), &key, &Expected::default()).unwrap();
        let bytes = text.as_bytes();
        let (mut accepted, mut refused) = (0, 0);
        for i in 0..bytes.len() {
            for replacement in [b'X', b' ', b'<', 0u8, 0xFF] {
                if bytes[i] == replacement {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                match parse_trade_query_reply(&changed, &key, &Expected::default()) {
                    Ok(o) => {
                        accepted += 1;
                        assert_eq!(
                            o, original,
                            "byte {i} set to {replacement:#x} changed the verified outcome"
                        );
                    }
                    Err(_) => refused += 1,
                }
            }
        }
        assert!(refused > accepted, "{refused} {accepted}");
    }
}

#[test]
fn empty_fields_read_as_absent_and_either_signed_string_verifies() {
    let mut fields = paid_trade("ORDER-1");
    fields.push(("use_coupon".into(), String::new()));
    // Signed without the empty field (the simulator's way, and §4 / §8.1's rule) …
    let without = alipay_sign(&content_of(&fields), SignType::Rsa2);
    // … or with it as `use_coupon=`.
    let mut sorted = fields.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let with: String = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(with.contains("use_coupon=&") || with.ends_with("use_coupon="));
    let with = alipay_sign(&with, SignType::Rsa2);
    for sign in [&without, &with] {
        let text = ReplySpec::signed(&fields, sign, "RSA2").write();
        let o = parse_trade_query_reply(text.as_bytes(), &alipay_key(), &expect_order("ORDER-1"))
            .unwrap();
        assert_eq!(trade_of(&o).status, TradeStatus::Paid);
    }
    // An added empty field changes nothing a caller reads.
    let text = ReplySpec::signed(&fields[..fields.len() - 1], &without, "RSA2").write();
    let a = parse_trade_query_reply(text.as_bytes(), &alipay_key(), &Expected::default()).unwrap();
    let text = ReplySpec::signed(&fields, &without, "RSA2").write();
    let b = parse_trade_query_reply(text.as_bytes(), &alipay_key(), &Expected::default()).unwrap();
    assert_eq!(trade_of(&a).status, trade_of(&b).status);
    assert_eq!(trade_of(&a).total_fee, trade_of(&b).total_fee);
    // An empty trade_status is no status: refused, not a trade.
    let mut blank = paid_trade("ORDER-1");
    blank
        .iter_mut()
        .find(|(k, _)| k == "trade_status")
        .unwrap()
        .1 = String::new();
    let sign = alipay_sign(&content_of(&blank), SignType::Rsa2);
    let e = parse_trade_query_reply(
        ReplySpec::signed(&blank, &sign, "RSA2").write().as_bytes(),
        &alipay_key(),
        &Expected::default(),
    )
    .unwrap_err();
    assert_eq!(
        (e.error.code, e.error.field.as_deref()),
        (ErrorCode::MalformedReply, Some("trade_status"))
    );
}

#[test]
fn a_genuine_reply_about_another_order_is_refused() {
    let fields = paid_trade("ORDER-1");
    let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
    let text = ReplySpec::signed(&fields, &sign, "RSA2").write();
    let e = parse_trade_query_reply(text.as_bytes(), &alipay_key(), &expect_order("ORDER-2"))
        .unwrap_err();
    assert_eq!(
        (e.error.code, e.error.field.as_deref()),
        (ErrorCode::MalformedReply, Some("out_trade_no"))
    );
    let by_trade_no = Expected {
        trade_no: Some("2024050221001003140213828086".into()),
        ..Expected::default()
    };
    let e = parse_trade_query_reply(text.as_bytes(), &alipay_key(), &by_trade_no).unwrap_err();
    assert_eq!(e.error.field.as_deref(), Some("trade_no"));
    // A signed trade that does not name its order cannot be matched.
    let nameless: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "out_trade_no")
        .cloned()
        .collect();
    let sign = alipay_sign(&content_of(&nameless), SignType::Rsa2);
    let text = ReplySpec::signed(&nameless, &sign, "RSA2").write();
    let e = parse_trade_query_reply(text.as_bytes(), &alipay_key(), &expect_order("ORDER-1"))
        .unwrap_err();
    assert_eq!(e.error.field.as_deref(), Some("out_trade_no"));
}

#[test]
fn unsigned_answers_are_never_final_states() {
    let expect = expect_order("ORDER-1");
    let envelope = |inner: &str| format!("<?xml version=\"1.0\"?><alipay>{inner}</alipay>");
    // TRADE_NOT_EXIST: not found, not an error.
    let o = parse_trade_query_reply(
        envelope("<is_success>F</is_success><error>TRADE_NOT_EXIST</error>").as_bytes(),
        &alipay_key(),
        &expect,
    )
    .unwrap();
    assert_eq!(o, TradeQueryOutcome::NotFound);
    assert_eq!(o.status(), Some("NOT_FOUND"));
    // Another error: data with an explanation.
    let o = parse_trade_query_reply(
        envelope("<is_success>F</is_success><error>ILLEGAL_PARTNER_EXTERFACE</error>").as_bytes(),
        &alipay_key(),
        &expect,
    )
    .unwrap();
    let TradeQueryOutcome::GatewayError(g) = &o else {
        panic!("{o:?}")
    };
    assert!(g.explanation.contains("no contract for this service"));
    assert_eq!(o.status(), None);
    // is_success=T with nothing signed: an error, not a trade.
    let e = parse_trade_query_reply(
        envelope("<is_success>T</is_success>").as_bytes(),
        &alipay_key(),
        &expect,
    )
    .unwrap_err();
    assert_eq!(e.error.code, ErrorCode::MalformedReply);
    // A <response> without any signature: MISSING_SIGN.
    let fields = paid_trade("ORDER-1");
    let mut spec = ReplySpec::signed(&fields, "", "RSA2");
    spec.sign = None;
    spec.sign_type = None;
    let e = parse_trade_query_reply(spec.write().as_bytes(), &alipay_key(), &expect).unwrap_err();
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("MISSING_SIGN"))
    );
    // is_success=F with a (forged) paid trade next to it: the error wins, nothing is paid.
    let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
    let mut spec = ReplySpec::signed(&fields, &sign, "RSA2");
    spec.is_success = "F";
    spec.error = Some("SYSTEM_ERROR");
    let o = parse_trade_query_reply(spec.write().as_bytes(), &alipay_key(), &expect).unwrap();
    let TradeQueryOutcome::GatewayError(g) = o else {
        panic!()
    };
    assert!(g.retryable);
    // An unknown trade_status, even signed, is not paid.
    let mut odd = paid_trade("ORDER-1");
    odd.iter_mut().find(|(k, _)| k == "trade_status").unwrap().1 = "TRADE_PENDING".into();
    let sign = alipay_sign(&content_of(&odd), SignType::Rsa2);
    let e = parse_trade_query_reply(
        ReplySpec::signed(&odd, &sign, "RSA2").write().as_bytes(),
        &alipay_key(),
        &expect,
    )
    .unwrap_err();
    assert_eq!(e.error.field.as_deref(), Some("trade_status"));
}

#[test]
fn refund_replies() {
    let expect = Expected {
        out_trade_no: Some("ORDER-1".into()),
        out_return_no: Some("REFUND-1".into()),
        ..Expected::default()
    };
    let key = alipay_key();
    let accepted = parse_refund_reply(
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<alipay>\n  <is_success>T</is_success>\n</alipay>\n",
        &key,
        &expect,
    )
    .unwrap();
    assert_eq!(accepted, RefundOutcome::Accepted { response: None });
    for code in [
        "RETURN_AMOUNT_EXCEED",
        "REPEATED_REFUNDMENT_REQUEST",
        "PURCHASE_TRADE_NOT_EXIST",
        "CURRENCY_NOT_SAME",
        "SOMETHING_ELSE",
    ] {
        let body = format!("<alipay><is_success>F</is_success><error>{code}</error></alipay>");
        let RefundOutcome::Refused(g) = parse_refund_reply(body.as_bytes(), &key, &expect).unwrap()
        else {
            panic!("{code}")
        };
        assert_eq!(g.code, code);
        assert!(!g.explanation.is_empty());
    }
    // A <response> on a refund reply (not documented) must verify, and be about this refund.
    let fields = pairs(&[("out_trade_no", "ORDER-1"), ("out_return_no", "REFUND-1")]);
    let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
    let mut spec = ReplySpec::signed(&fields, &sign, "RSA2");
    spec.element = Some("refund");
    let RefundOutcome::Accepted { response: Some(r) } =
        parse_refund_reply(spec.write().as_bytes(), &key, &expect).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.value(), &fields);
    let e = parse_refund_reply(
        spec.write().as_bytes(),
        &key,
        &Expected {
            out_return_no: Some("REFUND-2".into()),
            ..Expected::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.error.field.as_deref(), Some("out_return_no"));
    let forged = spec.write().replace("REFUND-1", "REFUND-9");
    let e = parse_refund_reply(forged.as_bytes(), &key, &Expected::default()).unwrap_err();
    assert_eq!(
        code_of(&e),
        (ErrorCode::ReplySignature, Some("BAD_SIGNATURE"))
    );
}

#[test]
fn refund_query_replies_are_read_tolerantly() {
    let key = alipay_key();
    let expect = Expected {
        out_trade_no: Some("ORDER-1".into()),
        out_return_no: Some("REFUND-1".into()),
        ..Expected::default()
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], Result<&'a str, &'a str>);
    let cases: &[Case] = &[
        (
            &[
                ("response_code", "SUCCESS"),
                ("refund_result_code", "SUCCESS"),
            ],
            Ok("SUCCESS"),
        ),
        (
            &[
                ("response_code", "SUCCESS"),
                ("refund_result_code", "FAILED"),
                ("refund_error_code", "MERCHANT_BALANCE_NOT_ENOUGH"),
            ],
            Ok("FAILED"),
        ),
        (
            &[
                ("response_code", "SUCCESS"),
                ("refund_result_code", "CANCELLED"),
            ],
            Ok("CANCELED"),
        ),
        (
            &[
                ("response_code", "success"),
                ("refund_result_code", "processing"),
            ],
            Ok("PROCESSING"),
        ),
        (&[("refund_result_code", "SUCCESS")], Ok("SUCCESS")),
        (
            &[
                ("result_code", "SUCCESS"),
                ("refund_status", "REFUND_SUCCESS"),
            ],
            Ok("SUCCESS"),
        ),
        (&[("response_code", "NOT_FOUND")], Ok("NOT_FOUND")),
        (&[("response_code", "TRADE_NOT_EXIST")], Ok("NOT_FOUND")),
        (
            &[("response_code", "ACCESS_FORBIDDEN")],
            Err("ACCESS_FORBIDDEN"),
        ),
        (&[("response_code", "QUERY_FAILED")], Err("QUERY_FAILED")),
    ];
    for (extra, want) in cases {
        let mut fields = pairs(&[("out_trade_no", "ORDER-1"), ("out_return_no", "REFUND-1")]);
        fields.extend(pairs(extra));
        let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
        for element in [Some("alipay"), Some("refund"), None] {
            let mut spec = ReplySpec::signed(&fields, &sign, "RSA2");
            spec.element = element;
            let o = parse_refund_query_reply(spec.write().as_bytes(), &key, &expect)
                .unwrap_or_else(|e| panic!("{extra:?} {element:?}: {e}"));
            match (want, &o) {
                (Ok(status), _) => assert_eq!(o.status(), Some(*status), "{extra:?}"),
                (Err(code), RefundQueryOutcome::GatewayError(g)) => assert_eq!(g.code, *code),
                (Err(_), other) => panic!("{other:?}"),
            }
            if let RefundQueryOutcome::Refund(r) = &o {
                assert_eq!(r.value().fields, fields);
                if r.status == RefundStatus::Failed {
                    assert_eq!(
                        r.refund_error_code.as_deref(),
                        Some("MERCHANT_BALANCE_NOT_ENOUGH")
                    );
                }
            }
        }
    }
    for bad in [
        &[("response_code", "SUCCESS")][..],
        &[
            ("response_code", "SUCCESS"),
            ("refund_result_code", "MAYBE"),
        ][..],
        &[("out_trade_no", "x")][..],
    ] {
        let mut fields = pairs(&[("out_return_no", "REFUND-1")]);
        fields.extend(pairs(bad));
        let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
        let e = parse_refund_query_reply(
            ReplySpec::signed(&fields, &sign, "RSA2").write().as_bytes(),
            &key,
            &Expected::default(),
        )
        .unwrap_err();
        assert_eq!(e.error.code, ErrorCode::MalformedReply, "{bad:?}");
    }
    // About another refund: refused.
    let fields = pairs(&[
        ("out_trade_no", "ORDER-1"),
        ("out_return_no", "REFUND-2"),
        ("response_code", "SUCCESS"),
        ("refund_result_code", "SUCCESS"),
    ]);
    let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
    let e = parse_refund_query_reply(
        ReplySpec::signed(&fields, &sign, "RSA2").write().as_bytes(),
        &key,
        &expect,
    )
    .unwrap_err();
    assert_eq!(e.error.field.as_deref(), Some("out_return_no"));
    // Unsigned TRADE_NOT_EXIST, and another error.
    let o = parse_refund_query_reply(
        b"<alipay><is_success>F</is_success><error>TRADE_NOT_EXIST</error></alipay>",
        &key,
        &expect,
    )
    .unwrap();
    assert_eq!(o, RefundQueryOutcome::NotFound);
    let o = parse_refund_query_reply(
        b"<alipay><is_success>F</is_success><error>ILLEGAL_SIGN</error></alipay>",
        &key,
        &expect,
    )
    .unwrap();
    assert_eq!(o.status(), None);
}

#[test]
fn parse_gateway_reply_needs_a_key_for_signed_services() {
    for s in [
        Service::SingleTradeQuery,
        Service::ForexRefund,
        Service::RefundQuery,
    ] {
        let e = parse_gateway_reply(
            s,
            b"<alipay><is_success>T</is_success></alipay>",
            None,
            &Expected::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.error.code, e.error.field.as_deref()),
            (ErrorCode::InvalidArgument, Some("key"))
        );
    }
    assert!(
        parse_gateway_reply(Service::NotifyVerify, b"true", None, &Expected::default()).is_ok()
    );
}
